/**
 * The report's verdict (pure): from the figures of two samples a few seconds apart, which part of
 * the pipeline limits it now, and the numbers that say so. The order of the checks:
 *
 * 1. The aggregators fall behind (the lag grows): why?
 *    - a replica's CPU is near one core (Node applies windows on one thread) → aggregator CPU;
 *    - windows run most of the time and most of a window is Postgres round trips (fence, links,
 *      bookkeeping, claim, lock_pools, copy, pools) → Postgres; so are connection-pool waits or
 *      lock waits when windows are busy;
 *    - windows run most of the time, mostly in the CPU phases (parse, plan) → aggregator CPU;
 *    - windows complete little while one of them has been open in Postgres for seconds, or
 *      backends wait on locks → Postgres (a window stuck on a lock records no duration until it
 *      ends, so the windows' histograms alone would look idle);
 *    - windows are mostly idle while the lag grows: the replicas wait for their fetches → Kafka.
 * 2. They keep up: is the front slow? The gateway refusing wagers because its Kafka buffer is
 *    full, or 503s → Kafka (the produce side); the gateway's p95 over 50 ms → gateway.
 * 3. Otherwise nothing limits it now: the windows' busy share says how much headroom there is.
 */

export type Bottleneck = 'kafka' | 'aggregator-cpu' | 'postgres' | 'gateway' | 'none' | 'unknown';

/** Postgres round trips; the rest of a window (parse, plan) is the replica's own CPU. */
const POSTGRES_PHASES = [
  'fence',
  'links',
  'bookkeeping',
  'claim',
  'lock_pools',
  'copy',
  'rollup',
  'pools',
] as const;

export interface Figures {
  readonly intervalS: number;
  /** Wagers on the topic not yet applied (Σ over partitions of end offset − stored position), at both samples. */
  readonly lagStart: number | null;
  readonly lagEnd: number | null;
  /** Wagers arriving on the topic per second (end offsets' growth) and applied per second (positions' growth). */
  readonly producedPerS: number | null;
  readonly appliedPerS: number | null;
  readonly aggregatorsUp: number;
  readonly aggregatorsExpected: number;
  /** Share of the interval the busiest replica spent inside window transactions (0..1). */
  readonly windowBusy: number | null;
  /** Seconds spent per window phase over the interval, all replicas. */
  readonly phaseSeconds: Readonly<Record<string, number>>;
  /** CPU of the busiest replica, in cores (null when the service exports no CPU time). */
  readonly aggregatorCpuCores: number | null;
  /** Requests waiting for a connection in the aggregators' pools, at the second sample. */
  readonly dbPoolPending: number | null;
  /** Backends of the database waiting on a lock, at the second sample. */
  readonly pgLockWaits: number | null;
  /** The aggregators' longest open transaction at the second sample, in seconds (0: none open). */
  readonly pgLongestWindowS: number | null;
  /** POST /v1/wagers over the interval (null when the gateway was not reached). */
  readonly gatewayP95Ms: number | null;
  readonly gatewayRequestsPerS: number | null;
  /** 503s per second and wager requests refused because the Kafka buffer was full. */
  readonly gateway503PerS: number | null;
  readonly gatewayKafkaBufferFullPerS: number | null;
}

export interface Verdict {
  readonly bottleneck: Bottleneck;
  /** The numbers that led there, one sentence each. */
  readonly because: readonly string[];
  /** What is worth knowing whatever the verdict (a replica down, lock waits). */
  readonly notes: readonly string[];
}

const THRESHOLDS = {
  /** Lag growing faster than this (wagers/s), and faster than 2 % of the intake, means falling behind. */
  lagGrowthPerS: 50,
  lagGrowthShare: 0.02,
  /** A replica at or above this many cores is CPU-bound (one thread does the windows). */
  cpuCores: 0.85,
  /** Windows busy this share of the time or more: the replica has little idle time left. */
  busy: 0.6,
  /** Postgres phases at or above this share of window time. */
  postgresShare: 0.6,
  gatewayP95Ms: 50,
  /** A window transaction open this long is stuck (a 10,000-wager window takes ~0.5 s). */
  stuckWindowS: 5,
} as const;

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
const num = (x: number): string => Math.round(x).toLocaleString('en');

export function diagnose(f: Figures): Verdict {
  const notes: string[] = [];
  if (f.aggregatorsUp < f.aggregatorsExpected)
    notes.push(
      `${f.aggregatorsExpected - f.aggregatorsUp} of ${f.aggregatorsExpected} aggregator replica(s) did not answer on /metrics`,
    );
  if (f.pgLockWaits !== null && f.pgLockWaits > 0)
    notes.push(`${f.pgLockWaits} Postgres backend(s) waiting on a lock`);

  const phaseTotal = Object.values(f.phaseSeconds).reduce((s, x) => s + x, 0);
  const pgSeconds = POSTGRES_PHASES.reduce((s, p) => s + (f.phaseSeconds[p] ?? 0), 0);
  const pgShare = phaseTotal > 0 ? pgSeconds / phaseTotal : null;
  const topPhases = Object.entries(f.phaseSeconds)
    .filter(([, s]) => s > 0)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([p, s]) => `${p} ${pct(s / phaseTotal)}`)
    .join(', ');

  if (f.lagStart === null || f.lagEnd === null)
    return {
      bottleneck: 'unknown',
      because: ['the lag could not be read (Kafka or Postgres unreachable)'],
      notes,
    };
  const growthPerS = (f.lagEnd - f.lagStart) / f.intervalS;
  const produced = f.producedPerS ?? 0;
  const behind = growthPerS > Math.max(THRESHOLDS.lagGrowthPerS, THRESHOLDS.lagGrowthShare * produced);
  const lagLine = `lag ${num(f.lagStart)} → ${num(f.lagEnd)} wagers in ${f.intervalS} s (${growthPerS >= 0 ? '+' : ''}${num(growthPerS)}/s): ${num(produced)} wagers/s in, ${num(f.appliedPerS ?? 0)}/s applied`;

  if (behind) {
    if (f.aggregatorsUp === 0)
      return {
        bottleneck: 'unknown',
        because: [lagLine, 'no aggregator answered on /metrics: are they running?'],
        notes,
      };
    if (f.aggregatorCpuCores !== null && f.aggregatorCpuCores >= THRESHOLDS.cpuCores)
      return {
        bottleneck: 'aggregator-cpu',
        because: [
          lagLine,
          `the busiest aggregator uses ${f.aggregatorCpuCores.toFixed(2)} cores (≥ ${THRESHOLDS.cpuCores}; one thread applies its windows): add replicas, up to the partition count`,
        ],
        notes,
      };
    if (f.windowBusy === null)
      return {
        bottleneck: 'unknown',
        because: [lagLine, 'the aggregators export no window durations'],
        notes,
      };
    const busyLine = `the busiest aggregator spent ${pct(f.windowBusy)} of the time inside window transactions`;
    if (f.windowBusy >= THRESHOLDS.busy) {
      const waits =
        (f.dbPoolPending ?? 0) > 0 || (f.pgLockWaits ?? 0) > 0
          ? `; ${f.dbPoolPending ?? 0} request(s) waiting for a pooled connection, ${f.pgLockWaits ?? 0} backend(s) waiting on locks`
          : '';
      if (pgShare !== null && pgShare >= THRESHOLDS.postgresShare)
        return {
          bottleneck: 'postgres',
          because: [
            lagLine,
            busyLine,
            `${pct(pgShare)} of window time in Postgres phases (${topPhases})${waits}`,
          ],
          notes,
        };
      if ((f.dbPoolPending ?? 0) > 0)
        return {
          bottleneck: 'postgres',
          because: [lagLine, busyLine, `waiting for Postgres${waits}`],
          notes,
        };
      return {
        bottleneck: 'aggregator-cpu',
        because: [
          lagLine,
          busyLine,
          pgShare === null
            ? 'no window phases exported'
            : `only ${pct(pgShare)} of window time in Postgres; the rest is the replica's own work (${topPhases}): add replicas, up to the partition count`,
        ],
        notes,
      };
    }
    const stuck = (f.pgLongestWindowS ?? 0) >= THRESHOLDS.stuckWindowS;
    if (stuck || (f.pgLockWaits ?? 0) > 0 || (f.dbPoolPending ?? 0) > 0)
      return {
        bottleneck: 'postgres',
        because: [
          lagLine,
          `${busyLine} by the windows that ended, but ${[
            stuck ? `a window transaction has been open for ${(f.pgLongestWindowS ?? 0).toFixed(1)} s` : null,
            (f.pgLockWaits ?? 0) > 0 ? `${f.pgLockWaits} backend(s) wait on locks` : null,
            (f.dbPoolPending ?? 0) > 0 ? `${f.dbPoolPending} request(s) wait for a pooled connection` : null,
          ]
            .filter((x) => x !== null)
            .join(', ')}: the windows wait on Postgres (pg_stat_activity names the blocking query)`,
        ],
        notes,
      };
    return {
      bottleneck: 'kafka',
      because: [
        lagLine,
        `${busyLine}: the replicas wait for their fetches from the broker (or have too few partitions to share)`,
      ],
      notes,
    };
  }

  if (f.gatewayKafkaBufferFullPerS !== null && f.gatewayKafkaBufferFullPerS > 0)
    return {
      bottleneck: 'kafka',
      because: [
        lagLine,
        `the gateway refused ${f.gatewayKafkaBufferFullPerS.toFixed(1)} wager requests/s because its Kafka buffer was full: the broker does not acknowledge fast enough`,
      ],
      notes,
    };
  if (f.gatewayP95Ms !== null && f.gatewayP95Ms > THRESHOLDS.gatewayP95Ms)
    return {
      bottleneck: 'gateway',
      because: [
        lagLine,
        `POST /v1/wagers p95 ${f.gatewayP95Ms.toFixed(1)} ms (> ${THRESHOLDS.gatewayP95Ms} ms) at ${num(f.gatewayRequestsPerS ?? 0)} requests/s${
          (f.gateway503PerS ?? 0) > 0 ? `, ${(f.gateway503PerS ?? 0).toFixed(1)} 503/s` : ''
        }, while the aggregators keep up`,
      ],
      notes,
    };
  const idle = produced < 1 && f.lagEnd === 0;
  return {
    bottleneck: 'none',
    because: [
      idle ? 'idle: no wagers arriving and none behind' : lagLine,
      ...(f.windowBusy === null
        ? []
        : [`the busiest aggregator is inside windows ${pct(f.windowBusy)} of the time`]),
      ...(f.gatewayP95Ms === null ? [] : [`POST /v1/wagers p95 ${f.gatewayP95Ms.toFixed(1)} ms`]),
    ],
    notes,
  };
}
