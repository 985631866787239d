/**
 * Reading the Prometheus text exposition that every service serves on GET /metrics (pure: text in,
 * numbers out), for `report`.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of the text; comments and lines that are not samples are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(LABEL))
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ name: m[1] ?? '', labels, value });
  }
  return out;
}

type Match = Readonly<Record<string, string>>;
const matches = (s: Sample, name: string, match: Match): boolean =>
  s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v);

/** The sum of the samples of `name` whose labels include `match`; null when there is none. */
export function sum(samples: readonly Sample[], name: string, match: Match = {}): number | null {
  let total: number | null = null;
  for (const s of samples) if (matches(s, name, match)) total = (total ?? 0) + s.value;
  return total;
}

/** Per value of `label`, the sum of the samples of `name` (e.g. a histogram's _sum per phase). */
export function sumBy(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** A histogram's cumulative buckets (le → count), summed over the series that include `match`. */
export function buckets(samples: readonly Sample[], name: string, match: Match = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (!matches(s, `${name}_bucket`, match)) continue;
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** `after - before` per bucket: the observations made between two scrapes. */
export function bucketDelta(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, n] of after) out.set(le, n - (before.get(le) ?? 0));
  return out;
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; the top finite bound when it falls in +Inf; null with no observations.
 */
export function quantile(q: number, cumulative: ReadonlyMap<number, number>): number | null {
  const sorted = [...cumulative].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
