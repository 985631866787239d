/**
 * The live page's charts, from counter samples: wagers applied per minute, the wagers waiting in
 * Kafka (lag), and each pool's contributions per minute. Pure: the sampler (page-data.ts) reads
 * the counters, this turns them into rates.
 *
 * Rates are deltas of lifetime counters between two samples, so they are exact whatever the
 * sampling interval, and a bucket's rate is divided by the time its samples actually cover: a
 * bucket the projector did not watch (it was not running, the database did not answer) is a gap
 * (null), never a zero.
 */

export interface CounterSample {
  readonly atMs: number;
  /**
   * Wagers applied so far: each jackpot's highest pool count (every wager of a jackpot reaches
   * each of its pools; a pool added later has counted fewer), summed over jackpots.
   */
  readonly wagersApplied: bigint;
  /** Each pool's lifetime contributions, in micro-units. */
  readonly contributionMicro: ReadonlyMap<string, bigint>;
  /** Wagers on the wager topic not yet applied by the aggregators' group; null when unknown. */
  readonly lagMessages: bigint | null;
}

export interface ThroughputBucket {
  /** The bucket's start, ISO 8601. */
  readonly at: string;
  readonly wagersPerMinute: number | null;
  /** At the bucket's last sample. */
  readonly lagMessages: number | null;
  /** Pool id to minor units per minute (two decimals); pools without a delta are absent. */
  readonly contributionsMinorPerMinute: Readonly<Record<string, number>>;
}

export interface ThroughputSummary {
  readonly bucketSeconds: number;
  readonly buckets: readonly ThroughputBucket[];
  /** Over the last minute sampled; null before two samples. */
  readonly wagersPerSecond: number | null;
  /** At the latest sample. */
  readonly lagMessages: number | null;
  readonly sampledAt: string | null;
}

export interface SummaryOptions {
  readonly bucketMs: number;
  /** How far back the buckets go. */
  readonly windowMs: number;
}

const MICRO_PER_MINOR = 1_000_000;

/** A counter that went down (a pool deleted and made anew) says nothing about a rate. */
function delta(a: bigint | undefined, b: bigint | undefined): bigint | null {
  if (a === undefined || b === undefined || b < a) return null;
  return b - a;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Samples in time order; `nowMs` fixes the last bucket. */
export function summarizeThroughput(
  samples: readonly CounterSample[],
  nowMs: number,
  opts: SummaryOptions,
): ThroughputSummary {
  const { bucketMs, windowMs } = opts;
  const first = Math.floor((nowMs - windowMs) / bucketMs);
  const last = Math.floor(nowMs / bucketMs);
  interface Acc {
    coveredMs: number;
    wagers: bigint;
    lag: bigint | null;
    contributions: Map<string, bigint>;
  }
  const accs = new Map<number, Acc>();
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const k = Math.floor(b.atMs / bucketMs);
    if (k < first || k > last || b.atMs <= a.atMs) continue;
    let acc = accs.get(k);
    if (acc === undefined) {
      acc = { coveredMs: 0, wagers: 0n, lag: null, contributions: new Map() };
      accs.set(k, acc);
    }
    acc.coveredMs += b.atMs - a.atMs;
    acc.wagers += delta(a.wagersApplied, b.wagersApplied) ?? 0n;
    acc.lag = b.lagMessages;
    for (const [poolId, micro] of b.contributionMicro) {
      const d = delta(a.contributionMicro.get(poolId), micro);
      if (d !== null) acc.contributions.set(poolId, (acc.contributions.get(poolId) ?? 0n) + d);
    }
  }
  const buckets: ThroughputBucket[] = [];
  for (let k = first; k <= last; k++) {
    const acc = accs.get(k);
    const perMinute = acc === undefined ? 0 : 60_000 / acc.coveredMs;
    const contributions: Record<string, number> = {};
    if (acc !== undefined) {
      for (const [poolId, micro] of acc.contributions)
        contributions[poolId] = round2((Number(micro) / MICRO_PER_MINOR) * perMinute);
    }
    buckets.push({
      at: new Date(k * bucketMs).toISOString(),
      wagersPerMinute: acc === undefined ? null : round2(Number(acc.wagers) * perMinute),
      lagMessages: acc?.lag == null ? null : Number(acc.lag),
      contributionsMinorPerMinute: contributions,
    });
  }

  const latest = samples.at(-1);
  // The oldest sample at most a minute before the latest: the current rate, not the window's.
  const from = latest === undefined ? undefined : samples.find((s) => s.atMs >= latest.atMs - 60_000);
  const rate =
    latest === undefined || from === undefined || latest.atMs <= from.atMs
      ? null
      : round2(
          (Number(delta(from.wagersApplied, latest.wagersApplied) ?? 0n) * 1000) / (latest.atMs - from.atMs),
        );
  return {
    bucketSeconds: bucketMs / 1000,
    buckets,
    wagersPerSecond: rate,
    lagMessages: latest?.lagMessages == null ? null : Number(latest.lagMessages),
    sampledAt: latest === undefined ? null : new Date(latest.atMs).toISOString(),
  };
}
