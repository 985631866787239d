/**
 * A latency histogram with log-spaced buckets: constant memory however many samples (a 60 s run
 * at 50,000/s records 3 million), percentiles within 1 % of the true value. Pure.
 */

/** 1 µs: below any latency a network round trip can have. */
const MIN_MS = 0.001;
/** Bucket i covers (MIN_MS·GROWTH^(i-1), MIN_MS·GROWTH^i]: 1 % relative precision. */
const GROWTH = 1.01;
/** Up to 1,000 s; anything slower lands in the last bucket (and `max` stays exact). */
const BUCKETS = Math.ceil(Math.log(1_000_000 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface Histogram {
  record(ms: number): void;
  readonly count: number;
  /** The value at quantile q in 0..1, in ms (0 when empty). */
  quantile(q: number): number;
  percentiles(): Percentiles;
}

export function createHistogram(): Histogram {
  const counts = new Float64Array(BUCKETS);
  let count = 0;
  let max = 0;
  let min = Infinity;

  const quantile = (q: number): number => {
    if (count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i] ?? 0;
      if (seen >= rank) {
        // The bucket's upper bound, but never beyond what was really seen; the last bucket is
        // open-ended, and only `max` is known of it.
        if (i === BUCKETS - 1) return max;
        return Math.max(min, Math.min(max, MIN_MS * Math.pow(GROWTH, i)));
      }
    }
    return max;
  };

  return {
    record(ms) {
      const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
      const i = v <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(v / MIN_MS) / LOG_GROWTH));
      counts[i] = (counts[i] ?? 0) + 1;
      count++;
      if (v > max) max = v;
      if (v < min) min = v;
    },
    get count() {
      return count;
    },
    quantile,
    percentiles() {
      return { p50: quantile(0.5), p90: quantile(0.9), p95: quantile(0.95), p99: quantile(0.99), max };
    },
  };
}
