/**
 * How fast the aggregator drains a backlog into Postgres, against a naive consumer that writes
 * each wager with one INSERT of its ledger row and one UPDATE of the pool totals (autocommit), in the
 * same run and on the same machine.
 *
 *   npm run bench:aggregator
 *
 * Needs the broker (`npm run kafka:start`) and Postgres. It creates two throwaway databases (one
 * for the aggregator, one for the naive consumer), configures in each the demo's four-tier
 * jackpot (`demo-eu`: 20 games, a reserve share and a capped grand) through the jackpot store,
 * and pre-fills a 12-partition throwaway topic with BENCH_WAGERS events (default 200,000) of the
 * load generator's realistic traffic (Zipf games and players, log-normal bets, 2 % re-sent
 * duplicates, 0.5 % invalid events) through BENCH_PRODUCERS producers of the producer library
 * (default 4). Only then does it start the aggregator in-process (one replica, the service's
 * default window settings) and time it from joining the group until Postgres holds every
 * position (Σ next_offset of the group = BENCH_WAGERS): events/s, applied wagers/s and ledger
 * rows/s, also between 10 % and 90 % of the positions (the steady state). The window transactions
 * are timed by the aggregator's own metrics (`jackpot.aggregator.batch.duration` and, per step,
 * `jackpot.aggregator.batch.phase.duration`); up to two windows overlap, so their sum is reported
 * as windows in flight, and the share of the wall time with no transaction open (fetching,
 * decoding, waiting for a window to fill) is measured on the aggregator's connection pool.
 *
 * The baseline consumes the first BENCH_NAIVE_WAGERS events (default 10,000) from a copy topic.
 * The aggregator's result is then checked against an independent BigInt computation over the
 * generated traffic (pool amounts and meters, ledger rows and sums, applied event ids, dead
 * letters by reason), so the benchmark cannot report a fast wrong answer. Everything it created
 * is removed at the end. Results go to bench/results/aggregator.json.
 *
 * Event ids: BENCH_EVENT_IDS=v7 (default: time-ordered UUIDv7 from the producer library's
 * `newEventId`, as game servers are told to make them) or v4 (random, the load generator's own);
 * BENCH_PRELOAD_IDS=N first fills the duplicate check with N ids of the same kind, claimed this
 * week, as if the week had already seen them (default 0), so that the claim works on an index
 * larger than the run itself. Peak RSS is sampled in this process while the aggregator runs (it
 * runs in-process: the figure includes the benchmark's own heap, its Kafka admin and pg pools).
 *
 * BENCH_AGGREGATOR_PROCESS=dist|tsx adds a second run of the same backlog by the aggregator
 * service as a process of its own (`node dist/services/aggregator/src/main.js` after `npm run
 * build`, or through tsx), on a third database and a group of its own, with its default settings:
 * its throughput from the spawn and its peak RSS (VmHWM in /proc), the figure the 100 MB target
 * is about; its result is verified the same way. BENCH_AGGREGATOR_NODE_FLAGS gives that process V8
 * flags (such as `--max-semi-space-size=2`); BENCH_AGGREGATOR_DIST_DIR another build's output.
 *
 * Settings: BENCH_WAGERS, BENCH_NAIVE_WAGERS, BENCH_PRODUCERS, BENCH_SEED (default 1),
 * BENCH_TIMEOUT_S (default 600), KAFKA_BROKERS, DATABASE_URL. BENCH_CPU_PROFILE=file.cpuprofile
 * writes a V8 CPU profile of the aggregator run alone (not of generating or producing the
 * traffic), for Chrome DevTools or speedscope.
 *
 * Why one file: it is one script whose steps share the run's throwaway databases, topic and
 * generated traffic, top to bottom; the naive baseline is shared with `npm run bench`
 * (bench/lib/naive-consumer.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import {
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS, int, list } from '../shared/src/config.js';
import { createPool, withClient } from '../shared/src/db.js';
import { validateJackpotConfig, type JackpotConfig } from '../shared/src/domain/index.js';
import { putJackpot } from '../shared/src/jackpot-store.js';
import { createKafka } from '../shared/src/kafka.js';
import { createLogger } from '../shared/src/logger.js';
import { createWagerProducer, newEventId, type WagerProducer } from '../shared/src/producer.js';
import { wagerRecord } from '../shared/src/messages/wager.js';
import { runNaive } from './lib/naive-consumer.js';
import { migrate } from '../infra/migrate.js';
import { createTopic } from '../infra/topics.js';
import { createTraffic, type TrafficEvent } from '../loadgen/src/traffic.js';
import { createAggregator } from '../services/aggregator/src/aggregator.js';
import { loadConfig } from '../services/aggregator/src/config.js';
import { ensureDayPartitions } from '../shared/src/retention.js';
import { demoJackpots } from '../loadgen/src/demo/configure.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results', 'aggregator.json');
const PARTITIONS = 12;
const TARGET_WAGERS_PER_S = 50_000;
const TARGET_RATIO = 20;
const POLL_MS = 20;
const MICRO = 1_000_000n;

/** The demo's `demo-eu` jackpot (four tiers, a reserve share, a capped grand), not a copy of it. */
const DEMO_EU = demoJackpots().find((j) => j.jackpotId === 'demo-eu');
if (DEMO_EU === undefined) throw new Error('loadgen/src/demo/configure.ts no longer defines demo-eu');
const JACKPOT_ID = DEMO_EU.jackpotId;
const JACKPOT_BODY = { currency: DEMO_EU.currency, pools: DEMO_EU.pools, games: DEMO_EU.games };

interface Event {
  readonly key: string;
  readonly value: Buffer;
}

interface Expected {
  /** Distinct valid wagers: each must be applied once. */
  applied: number;
  readonly visibleMicro: Map<string, bigint>;
  readonly reserveMicro: Map<string, bigint>;
  readonly deadLetters: Map<string, number>;
}

// ---------------------------------------------------------------------------------------------
// Traffic and its independent expectation.

/**
 * Generates the traffic in chunks and sends each chunk as it is made (the first `naiveN` events to
 * the naive consumer's topic too), so the whole backlog never sits in this process's memory while
 * the aggregator runs beside it. Returns the independent expectation.
 */
async function prefill(
  kafka: Kafka,
  config: JackpotConfig,
  opts: {
    n: number;
    naiveN: number;
    seed: string;
    producers: number;
    topic: string;
    naiveTopic: string;
    eventIds: 'v4' | 'v7';
  },
): Promise<{ expected: Expected; bytes: number; seconds: number }> {
  const traffic = createTraffic({
    seed: opts.seed,
    games: config.games.map((gameId) => ({ gameId, currency: config.currency })),
    dupRate: 0.02,
    invalidRate: 0.005,
  });
  const expected: Expected = {
    applied: 0,
    visibleMicro: new Map(),
    reserveMicro: new Map(),
    deadLetters: new Map(),
  };
  for (const p of config.pools) {
    expected.visibleMicro.set(p.poolId, 0n);
    expected.reserveMicro.set(p.poolId, 0n);
  }
  const started = performance.now();
  const ps: WagerProducer[] = Array.from({ length: opts.producers }, () =>
    createWagerProducer({ kafka, topic: opts.topic }),
  );
  const naive = createWagerProducer({ kafka, topic: opts.naiveTopic });
  await Promise.all([...ps, naive].map((p) => p.connect()));
  let bytes = 0;
  // v7: each wager's v4 id is replaced by a new UUIDv7 as it is sent; a re-sent copy keeps its
  // first copy's replacement.
  const v7 = new Map<string, string>();
  const withId = (e: TrafficEvent): TrafficEvent => {
    if (opts.eventIds === 'v4' || e.kind === 'invalid') return e;
    let id = v7.get(e.wager.eventId);
    if (id === undefined) {
      id = newEventId();
      v7.set(e.wager.eventId, id);
    }
    return { ...e, wager: { ...e.wager, eventId: id } };
  };
  try {
    const CHUNK = 20_000;
    const start = Date.now();
    for (let i = 0; i < opts.n; i += CHUNK) {
      const sends: Promise<void>[] = [];
      for (let j = i; j < Math.min(opts.n, i + CHUNK); j++) {
        // 20,000 events a second of occurredAt: realistic timestamps, all well inside today's partitions.
        const event = toEvent(
          withId(traffic.next(start - opts.n / 20 + Math.floor(j / 20))),
          expected,
          config,
        );
        bytes += event.value.length;
        sends.push((ps[shardOf(event.key, opts.producers)] as WagerProducer).sendRaw(event.key, event.value));
        if (j < opts.naiveN) sends.push(naive.sendRaw(event.key, event.value));
      }
      await Promise.all(sends);
    }
  } finally {
    await Promise.all([...ps, naive].map((p) => p.disconnect()));
  }
  return { expected, bytes, seconds: (performance.now() - started) / 1000 };
}

/** The bytes of one traffic event, adding what it must change to `expected`. */
function toEvent(e: TrafficEvent, expected: Expected, config: JackpotConfig): Event {
  if (e.kind === 'invalid') {
    expected.deadLetters.set(e.reason, (expected.deadLetters.get(e.reason) ?? 0) + 1);
    return { key: e.key, value: Buffer.from(e.value, 'utf8') };
  }
  const w = e.wager;
  if (!e.duplicate) {
    expected.applied++;
    const amount = BigInt(w.amountMinor);
    for (const p of config.pools) {
      expected.visibleMicro.set(
        p.poolId,
        (expected.visibleMicro.get(p.poolId) ?? 0n) + amount * BigInt(p.contributionPpm),
      );
      expected.reserveMicro.set(
        p.poolId,
        (expected.reserveMicro.get(p.poolId) ?? 0n) + amount * BigInt(p.reservePpm),
      );
    }
  }
  return wagerRecord(w);
}

/** Same partitioner input as the load generator (key = playerId), sharded over producers by key so each key keeps its order. */
function shardOf(key: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(h) % shards;
}

// ---------------------------------------------------------------------------------------------
// Databases.

async function createDatabase(
  admin: pg.Client,
  serverUrl: URL,
  config: JackpotConfig,
): Promise<{ name: string; url: string; pool: pg.Pool }> {
  const name = `jackpot_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  const pool = createPool(url.toString(), { max: 2, applicationName: 'aggregator-bench' });
  // DROP DATABASE … WITH (FORCE) at the end terminates whatever connection is still closing.
  pool.on('error', () => undefined);
  const put = await withClient(pool, (c) => putJackpot(c, config, { actor: 'aggregator-bench' }));
  if (!put.ok) throw new Error(`jackpot not stored: ${JSON.stringify(put)}`);
  return { name, url: url.toString(), pool };
}

/**
 * N ids in this week's partition of the duplicate check, of the kind the run sends: random (v4)
 * or UUIDv7 of the last N milliseconds before now (older than every id of the run).
 */
async function preloadIds(pool: pg.Pool, n: number, kind: 'v4' | 'v7'): Promise<void> {
  await ensureDayPartitions(pool, Date.now());
  const id =
    kind === 'v4'
      ? 'gen_random_uuid()'
      : `(lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - $1::bigint + i), 12, '0') || '7' ||
          substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid`;
  const CHUNK = 1_000_000;
  for (let from = 0; from < n; from += CHUNK) {
    await pool.query(
      `INSERT INTO jackpot.applied_events (event_id, claimed_week)
       SELECT ${id}, date_trunc('week', now() AT TIME ZONE 'UTC')::date
       FROM generate_series($2::bigint, $3::bigint) AS i WHERE $1::bigint > 0`,
      [n, from, Math.min(n, from + CHUNK) - 1],
    );
  }
  await pool.query('VACUUM ANALYZE jackpot.applied_events');
}

// ---------------------------------------------------------------------------------------------
// The aggregator's own metrics, read in-process.

class BenchReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function readMetrics(reader: BenchReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const m of scope.metrics) out.set(m.descriptor.name, m);
  return out;
}

function histogram(m: MetricData | undefined): { count: number; sum: number; max: number } {
  const points = (m as HistogramMetricData | undefined)?.dataPoints ?? [];
  let count = 0;
  let sum = 0;
  let max = 0;
  for (const p of points) {
    count += p.value.count;
    sum += p.value.sum ?? 0;
    max = Math.max(max, p.value.max ?? 0);
  }
  return { count, sum, max };
}

function counter(m: MetricData | undefined, attrs: Record<string, string> = {}): number {
  let total = 0;
  for (const p of m?.dataPoints ?? []) {
    if (Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)) total += Number(p.value);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// The aggregator run.

interface AggregatorRun {
  readonly events: number;
  readonly applied: number;
  readonly ledgerRows: number;
  /** From `start()` to every position stored. */
  readonly totalSeconds: number;
  /** From joining the group (readiness) to every position stored: the throughput figure. */
  readonly seconds: number;
  readonly eventsPerS: number;
  readonly appliedPerS: number;
  readonly ledgerRowsPerS: number;
  /** Events/s between 10 % and 90 % of the positions: the steady state, without start-up and tail. */
  readonly steadyEventsPerS: number;
  readonly windows: number;
  readonly meanWindowEvents: number;
  /** Σ of the window transactions' durations (up to two overlap, so this can pass the wall time). */
  readonly windowSecondsTotal: number;
  readonly windowMsMean: number;
  readonly windowMsMax: number;
  /** Mean number of window transactions in progress: Σ durations / wall time. */
  readonly windowsInFlight: number;
  /** Share of the wall time with no connection of the aggregator checked out: fetching, decoding, waiting to fill a window. */
  readonly outsideShare: number;
  /** Per step of the transaction (`jackpot.aggregator.batch.phase.duration`), ms per window; `begin_commit` is the rest. */
  readonly phaseMsPerWindow: Record<string, number>;
  readonly retries: number;
  /** CPU of this process (the aggregator) per applied wager, and as a share of one core. */
  readonly cpuUsPerEvent: number;
  readonly cpuCores: number;
  /** This process's RSS (MB) just before the aggregator started, and its peak while it ran (sampled every 20 ms). */
  readonly rssMbAtStart: number;
  readonly rssMbPeak: number;
  readonly heapMbPeak: number;
}

async function runAggregator(
  kafka: Kafka,
  db: { url: string; pool: pg.Pool },
  topics: Record<'topic' | 'poolUpdatesTopic' | 'dlqTopic' | 'awardsTopic', string>,
  n: number,
  timeoutS: number,
): Promise<AggregatorRun> {
  const defaults = loadConfig({});
  const groupId = `bench.aggregator.${randomBytes(4).toString('hex')}`;
  const reader = new BenchReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const pool = createPool(db.url, { max: defaults.dbPoolMax, applicationName: 'jackpot-aggregator' });
  pool.on('error', () => undefined);
  // Time with at least one connection checked out: windows (and the outbox relays after them).
  let checkedOut = 0;
  let busySince = 0;
  let busyMs = 0;
  pool.on('acquire', () => {
    if (checkedOut++ === 0) busySince = performance.now();
  });
  pool.on('release', () => {
    if (--checkedOut === 0) busyMs += performance.now() - busySince;
  });
  const aggregator = createAggregator({
    kafka,
    pool,
    config: { ...defaults, groupId, ...topics },
    logger: createLogger('aggregator', process.env['BENCH_LOG_LEVEL'] ?? 'warn'),
    meter: meterProvider.getMeter('aggregator-bench'),
  });
  const stored = async (): Promise<number> =>
    Number(
      (
        await db.pool.query<{ n: string }>(
          'SELECT coalesce(sum(next_offset) FILTER (WHERE next_offset > 0), 0)::text AS n FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
          [groupId, topics.topic],
        )
      ).rows[0]?.n ?? 0,
    );

  const rssAtStart = process.memoryUsage.rss();
  let rssPeak = rssAtStart;
  let heapPeak = 0;
  const rssWatch = setInterval(() => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed + m.external);
  }, 20);
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  let busyAtJoin = Number.NaN;
  let joinedAt = Number.NaN;
  const joinWatch = setInterval(() => {
    if (Number.isNaN(joinedAt) && aggregator.readiness() === null) {
      joinedAt = performance.now();
      busyAtJoin = busyMs + (checkedOut > 0 ? joinedAt - busySince : 0);
    }
  }, 5);
  let at10 = Number.NaN;
  let at90 = Number.NaN;
  let doneAt: number;
  try {
    await aggregator.start();
    for (;;) {
      const s = await stored();
      const now = performance.now();
      if (Number.isNaN(at10) && s >= n * 0.1) at10 = now;
      if (Number.isNaN(at90) && s >= n * 0.9) at90 = now;
      if (s >= n) {
        doneAt = now;
        busyMs += checkedOut > 0 ? now - busySince : 0;
        busySince = now;
        break;
      }
      if (now - t0 > timeoutS * 1000)
        throw new Error(`aggregator stored ${s} of ${n} positions after ${timeoutS} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    clearInterval(joinWatch);
    clearInterval(rssWatch);
    await aggregator.stop();
    await pool.end();
  }
  const busyMeasured = busyMs - (Number.isNaN(busyAtJoin) ? 0 : busyAtJoin);
  const cpu = process.cpuUsage(cpuBefore);
  const metrics = await readMetrics(reader);
  await meterProvider.shutdown();

  const windows = histogram(metrics.get('jackpot.aggregator.batch.duration'));
  const sizes = histogram(metrics.get('jackpot.aggregator.batch.size'));
  const wagers = metrics.get('jackpot.aggregator.wagers');
  const applied = counter(wagers, { outcome: 'applied' });
  const ledgerRows = counter(metrics.get('jackpot.aggregator.ledger_rows'));
  const seconds = (doneAt - (Number.isNaN(joinedAt) ? t0 : joinedAt)) / 1000;
  const wall = (doneAt - t0) / 1000;
  const phaseMsPerWindow: Record<string, number> = {};
  let phaseSum = 0;
  for (const p of (metrics.get('jackpot.aggregator.batch.phase.duration') as HistogramMetricData | undefined)
    ?.dataPoints ?? []) {
    const name = String(p.attributes['phase']);
    phaseSum += p.value.sum ?? 0;
    phaseMsPerWindow[name] = round(((p.value.sum ?? 0) * 1000) / Math.max(1, windows.count));
  }
  phaseMsPerWindow['begin_commit'] = round(((windows.sum - phaseSum) * 1000) / Math.max(1, windows.count));
  return {
    events: n,
    applied,
    ledgerRows,
    totalSeconds: round(wall),
    seconds: round(seconds),
    eventsPerS: Math.round(n / seconds),
    appliedPerS: Math.round(applied / seconds),
    ledgerRowsPerS: Math.round(ledgerRows / seconds),
    steadyEventsPerS: Math.round((n * 0.8) / ((at90 - at10) / 1000)),
    windows: windows.count,
    meanWindowEvents: Math.round(sizes.sum / Math.max(1, sizes.count)),
    windowSecondsTotal: round(windows.sum),
    windowMsMean: round((windows.sum * 1000) / Math.max(1, windows.count)),
    windowMsMax: round(windows.max * 1000),
    windowsInFlight: round(windows.sum / seconds),
    outsideShare: round(1 - busyMeasured / 1000 / seconds),
    phaseMsPerWindow,
    retries: counter(metrics.get('jackpot.aggregator.batch.retries')),
    cpuUsPerEvent: round((cpu.user + cpu.system) / n),
    cpuCores: round((cpu.user + cpu.system) / 1e6 / wall),
    rssMbAtStart: Math.round(rssAtStart / 2 ** 20),
    rssMbPeak: Math.round(rssPeak / 2 ** 20),
    heapMbPeak: Math.round(heapPeak / 2 ** 20),
  };
}

// ---------------------------------------------------------------------------------------------
// The aggregator service as a process of its own, for its memory.

interface ProcessRun {
  readonly mode: 'dist' | 'tsx';
  /** From the spawn to every position stored (start-up and joining the group included). */
  readonly seconds: number;
  readonly eventsPerS: number;
  /** From the first position stored to the last: without start-up. */
  readonly runningEventsPerS: number;
  /** VmHWM: the peak resident set of the process over its life. */
  readonly peakRssMb: number;
  /** VmRSS when the backlog was drained. */
  readonly endRssMb: number;
}

function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Math.round(Number(m[1]) / 1024);
}

async function runAggregatorProcess(
  db: { url: string; pool: pg.Pool },
  topics: Record<'topic' | 'poolUpdatesTopic' | 'dlqTopic' | 'awardsTopic', string>,
  brokers: readonly string[],
  n: number,
  timeoutS: number,
  mode: 'dist' | 'tsx',
): Promise<ProcessRun> {
  const root = join(HERE, '..');
  const compiled = join(
    process.env['BENCH_AGGREGATOR_DIST_DIR'] ?? join(root, 'dist'),
    'services',
    'aggregator',
    'src',
    'main.js',
  );
  if (mode === 'dist' && !existsSync(compiled))
    throw new Error(`${compiled} is missing: npm run build first`);
  // BENCH_AGGREGATOR_NODE_FLAGS: V8 flags for the service process only, e.g. --max-semi-space-size=2.
  const flags = (process.env['BENCH_AGGREGATOR_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const args = [
    ...flags,
    ...(mode === 'dist'
      ? [compiled]
      : ['--import', 'tsx', join(root, 'services', 'aggregator', 'src', 'main.ts')]),
  ];
  const groupId = `bench.aggregator-process.${randomBytes(4).toString('hex')}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: brokers.join(','),
      AGGREGATOR_GROUP_ID: groupId,
      AGGREGATOR_TOPIC: topics.topic,
      POOL_UPDATES_TOPIC: topics.poolUpdatesTopic,
      DLQ_TOPIC: topics.dlqTopic,
      AWARDS_TOPIC: topics.awardsTopic,
      AGGREGATOR_PORT: '0',
      LOG_LEVEL: 'warn',
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('the aggregator process did not start');
  let firstAt = Number.NaN;
  let firstStored = 0;
  try {
    for (;;) {
      const s = Number(
        (
          await db.pool.query<{ n: string }>(
            'SELECT coalesce(sum(next_offset) FILTER (WHERE next_offset > 0), 0)::text AS n FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
            [groupId, topics.topic],
          )
        ).rows[0]?.n ?? 0,
      );
      if (Number.isNaN(firstAt) && s > 0) {
        firstAt = performance.now();
        firstStored = s;
      }
      if (s >= n) break;
      if (child.exitCode !== null) throw new Error(`the aggregator process exited (${child.exitCode})`);
      if (performance.now() - t0 > timeoutS * 1000)
        throw new Error(`the aggregator process stored ${s} of ${n} positions after ${timeoutS} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      mode,
      seconds: round(seconds),
      eventsPerS: Math.round(n / seconds),
      runningEventsPerS: Math.round((n - firstStored) / ((performance.now() - firstAt) / 1000)),
      peakRssMb: procStatusMb(pid, 'VmHWM'),
      endRssMb: procStatusMb(pid, 'VmRSS'),
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Correctness: what Postgres holds against the independent computation.

async function verify(
  pool: pg.Pool,
  config: JackpotConfig,
  expected: Expected,
  preloaded: number,
): Promise<string[]> {
  const problems: string[] = [];
  const totals = await pool.query<{
    pool_id: string;
    amount_micro: string;
    reserve_micro: string;
    visible: string;
    reserve_total: string;
    wagers_total: string;
    cycle: number;
  }>(
    `SELECT pool_id, amount_micro::text, reserve_micro::text, (contribution_micro_total + overflow_micro_total)::text AS visible,
            reserve_micro_total::text AS reserve_total, wagers_total::text, cycle
       FROM jackpot.pool_totals ORDER BY pool_id`,
  );
  const ledger = new Map(
    (
      await pool.query<{ pool_id: string; n: string; visible: string; reserve: string }>(
        `SELECT pool_id, count(*)::text AS n, sum(contribution_micro + overflow_micro)::text AS visible, sum(reserve_micro)::text AS reserve
           FROM jackpot.contributions GROUP BY pool_id`,
      )
    ).rows.map((r) => [r.pool_id, r]),
  );
  for (const p of config.pools) {
    const t = totals.rows.find((r) => r.pool_id === p.poolId);
    const visible = expected.visibleMicro.get(p.poolId) ?? 0n;
    const reserve = expected.reserveMicro.get(p.poolId) ?? 0n;
    const check = (what: string, actual: string | undefined, want: bigint): void => {
      if (actual === undefined || BigInt(actual) !== want)
        problems.push(`${p.poolId} ${what}: ${actual ?? 'missing'}, expected ${want}`);
    };
    check('wagers_total', t?.wagers_total, BigInt(expected.applied));
    check('visible meter', t?.visible, visible);
    check('reserve meter', t?.reserve_total, reserve);
    // No mystery pool and the grand's ceiling is far away at these volumes, so the amount is exact too.
    check('amount_micro', t?.amount_micro, BigInt(p.seedMinor) * MICRO + visible);
    check('reserve_micro', t?.reserve_micro, reserve);
    const l = ledger.get(p.poolId);
    check('ledger rows', l?.n, BigInt(expected.applied));
    check('ledger visible sum', l?.visible, visible);
    check('ledger reserve sum', l?.reserve, reserve);
  }
  const events = (await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM jackpot.applied_events'))
    .rows[0]?.n;
  if (Number(events) !== expected.applied + preloaded)
    problems.push(`applied_events: ${events}, expected ${expected.applied} + ${preloaded} preloaded`);
  const dead = new Map(
    (
      await pool.query<{ reason: string; n: string }>(
        'SELECT reason, count(*)::text AS n FROM jackpot.dead_letters GROUP BY reason',
      )
    ).rows.map((r) => [r.reason, Number(r.n)]),
  );
  for (const reason of new Set([...dead.keys(), ...expected.deadLetters.keys()])) {
    if ((dead.get(reason) ?? 0) !== (expected.deadLetters.get(reason) ?? 0))
      problems.push(
        `dead letters ${reason}: ${dead.get(reason) ?? 0}, expected ${expected.deadLetters.get(reason) ?? 0}`,
      );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Runs `fn` under the V8 CPU profiler (1 ms sampling) and writes the profile to `file`. */
async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`CPU profile of the aggregator run written to ${file}`);
  }
}

async function bench(): Promise<void> {
  const env = process.env;
  const n = int(env, 'BENCH_WAGERS', 200_000, 1_000, 10_000_000);
  const naiveN = Math.min(n, int(env, 'BENCH_NAIVE_WAGERS', 10_000, 100, 1_000_000));
  const producers = int(env, 'BENCH_PRODUCERS', 4, 1, 64);
  const timeoutS = int(env, 'BENCH_TIMEOUT_S', 600, 10, 86_400);
  const seed = env['BENCH_SEED'] ?? '1';
  const eventIds = env['BENCH_EVENT_IDS'] === 'v4' ? 'v4' : 'v7';
  const preload = int(env, 'BENCH_PRELOAD_IDS', 0, 0, 100_000_000);
  const processMode = env['BENCH_AGGREGATOR_PROCESS'];
  if (processMode !== undefined && processMode !== '' && processMode !== 'dist' && processMode !== 'tsx')
    throw new Error('BENCH_AGGREGATOR_PROCESS must be dist or tsx');
  const brokers = list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);

  const validated = validateJackpotConfig(JACKPOT_ID, JACKPOT_BODY);
  if (!validated.ok) throw new Error(`bench jackpot invalid: ${JSON.stringify(validated.details)}`);
  const config = validated.config;

  const serverUrl = new URL(env['DATABASE_URL'] || DEFAULT_DATABASE_URL);
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  const kafka = createKafka({ brokers, clientId: 'aggregator-bench' });
  const kafkaAdmin: Admin = kafka.admin();
  await kafkaAdmin.connect();

  const suffix = randomBytes(4).toString('hex');
  const topics = {
    topic: `bench.wagers.${suffix}`,
    poolUpdatesTopic: `bench.pool-updates.${suffix}`,
    dlqTopic: `bench.dlq.${suffix}`,
    awardsTopic: `bench.awards.${suffix}`,
  };
  const naiveTopic = `bench.wagers-naive.${suffix}`;
  const databases: { name: string; pool: pg.Pool }[] = [];
  const createdTopics: string[] = [];

  try {
    console.log(
      `aggregator bench: ${n} events (${naiveN} for the naive consumer), ${PARTITIONS} partitions, event ids ${eventIds}` +
        `${preload > 0 ? `, ${preload} ids preloaded` : ''}, load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    const aggDb = await createDatabase(admin, serverUrl, config);
    databases.push(aggDb);
    const naiveDb = await createDatabase(admin, serverUrl, config);
    databases.push(naiveDb);
    for (const [topic, partitions] of [
      [topics.topic, PARTITIONS],
      [naiveTopic, PARTITIONS],
      [topics.poolUpdatesTopic, 3],
      [topics.dlqTopic, 3],
      [topics.awardsTopic, 3],
    ] as const) {
      await createTopic(kafkaAdmin, { topic, partitions });
      createdTopics.push(topic);
    }

    if (preload > 0) {
      const t = performance.now();
      await preloadIds(aggDb.pool, preload, eventIds);
      console.log(
        `preloaded ${preload} ${eventIds} ids into this week's duplicate check in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
    const filled = await prefill(kafka, config, {
      eventIds,
      n,
      naiveN,
      seed,
      producers,
      topic: topics.topic,
      naiveTopic,
    });
    const { expected, bytes } = filled;
    console.log(
      `pre-filled ${topics.topic} with ${n} events (${expected.applied} distinct valid wagers, ` +
        `${[...expected.deadLetters.values()].reduce((a, b) => a + b, 0)} invalid, ${Math.round(bytes / n)} B each) ` +
        `in ${filled.seconds.toFixed(1)} s, ${producers} producers`,
    );

    const profile = env['BENCH_CPU_PROFILE'];
    const agg =
      profile === undefined || profile === ''
        ? await runAggregator(kafka, aggDb, topics, n, timeoutS)
        : await profiled(profile, () => runAggregator(kafka, aggDb, topics, n, timeoutS));
    console.log(
      `aggregator (1 replica)      ${String(agg.eventsPerS).padStart(7)} events/s   ${agg.appliedPerS} applied wagers/s   ${agg.ledgerRowsPerS} ledger rows/s   ` +
        `${agg.seconds} s from group join (${agg.totalSeconds} s from start), steady 10-90 % ${agg.steadyEventsPerS} events/s`,
    );
    console.log(
      `  windows: ${agg.windows}, ${agg.meanWindowEvents} events each, ${agg.windowMsMean} ms mean, ${agg.windowMsMax} ms max; ` +
        `Σ in transactions ${agg.windowSecondsTotal} s (${agg.windowsInFlight} windows in flight on average), no transaction open ${(agg.outsideShare * 100).toFixed(0)} % of the time; ` +
        `${agg.retries} retries; aggregator CPU ${agg.cpuUsPerEvent} µs/event (${agg.cpuCores} cores)`,
    );
    console.log(
      `  memory (this process, aggregator in-process): RSS ${agg.rssMbAtStart} MB at start, peak ${agg.rssMbPeak} MB; peak heap+external ${agg.heapMbPeak} MB`,
    );
    console.log(
      `  per window (ms): ${Object.entries(agg.phaseMsPerWindow)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );

    const problems = await verify(aggDb.pool, config, expected, preload);
    if (agg.applied !== expected.applied)
      problems.push(`applied metric ${agg.applied}, expected ${expected.applied}`);
    console.log(
      problems.length === 0
        ? `verified: pool totals, meters, ledger, applied ids and dead letters equal the independent BigInt sums`
        : `VERIFICATION FAILED:\n  ${problems.join('\n  ')}`,
    );

    let serviceRun: ProcessRun | undefined;
    if (processMode === 'dist' || processMode === 'tsx') {
      const processDb = await createDatabase(admin, serverUrl, config);
      databases.push(processDb);
      if (preload > 0) await preloadIds(processDb.pool, preload, eventIds);
      serviceRun = await runAggregatorProcess(processDb, topics, brokers, n, timeoutS, processMode);
      const again = await verify(processDb.pool, config, expected, preload);
      problems.push(...again.map((p) => `service process: ${p}`));
      console.log(
        `aggregator service (${processMode}, own process) ${serviceRun.runningEventsPerS} events/s from its first window, ${serviceRun.eventsPerS} from spawn (${serviceRun.seconds} s); ` +
          `peak RSS ${serviceRun.peakRssMb} MB (VmHWM), ${serviceRun.endRssMb} MB when drained; ${again.length === 0 ? 'verified' : 'VERIFICATION FAILED'}`,
      );
    }

    const naive = await runNaive(kafka, naiveDb, config, naiveTopic, naiveN, timeoutS);
    console.log(
      `naive (INSERT+UPDATE/wager) ${String(naive.eventsPerS).padStart(7)} events/s   ${naive.appliedPerS} applied wagers/s   ${naive.seconds} s for ${naiveN} events`,
    );
    const ratio = Math.round((agg.eventsPerS / Math.max(1, naive.eventsPerS)) * 10) / 10;
    console.log(
      `ratio: ${ratio}x (target ${TARGET_RATIO}x: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})   ` +
        `target ${TARGET_WAGERS_PER_S} wagers/s: ${agg.eventsPerS >= TARGET_WAGERS_PER_S ? 'met' : 'NOT met'}   load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );

    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          benchmark: 'aggregator backlog drain',
          at: new Date().toISOString(),
          machine: {
            cpus: cpus().length,
            cpu: cpus()[0]?.model ?? 'unknown',
            node: process.version,
            loadavg: loadavg().map(round),
          },
          settings: {
            events: n,
            naiveEvents: naiveN,
            partitions: PARTITIONS,
            producers,
            seed,
            eventIds,
            preloadedIds: preload,
            jackpot: JACKPOT_ID,
            pools: config.pools.length,
            games: config.games.length,
            meanEventBytes: Math.round(bytes / n),
          },
          expected: { applied: expected.applied, deadLetters: Object.fromEntries(expected.deadLetters) },
          aggregator: agg,
          aggregatorService: serviceRun ?? null,
          naive,
          ratio,
          targetRatio: TARGET_RATIO,
          targetWagersPerS: TARGET_WAGERS_PER_S,
          verified: problems.length === 0,
          problems,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`written to ${RESULTS}`);
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await kafkaAdmin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    for (const d of databases) {
      await d.pool.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${d.name} WITH (FORCE)`).catch(() => undefined);
    }
    await admin.end().catch(() => undefined);
  }
}

await bench();
