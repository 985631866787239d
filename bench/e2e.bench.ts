/**
 * The whole pipeline on this machine, end to end: `npm run bench` (about 8-10 minutes) or
 * `npm run bench -- --quick` (a smoke test, about 3 minutes).
 *
 * Real processes on the real local broker and Postgres, as `stack:up` runs them (compiled, started
 * with `node dist/…` through infra/stack.ts' startService): the projector and 1, 2 or 4 aggregator
 * replicas, on a fresh database and fresh topics of this run (the shared `jackpot` database and the
 * contract's topics are never touched). This process is the load generator (`runLoad`, the
 * producer library through Kafka, the demo's mix: 2 % re-sent copies, 0.5 % invalid events; each
 * step's traffic made, encoded and priced by the ledger before its clock starts, as game servers
 * make theirs on their own machines: bench/README.md) and the latency probe (a probe pool no other
 * traffic touches, polled in the projector).
 *
 * Steps, each followed by a check that the projector shows exactly what was sent:
 *  1. a warm-up (not reported);
 *  2. a maximum run with 2 replicas: the producer as fast as it goes for a while;
 *  3. a sweep of fixed offered rates with 2 replicas: 5,000/s and ¼, ½, ¾ of that maximum;
 *  4. maximum runs with 1 and 4 replicas;
 *  5. the baselines: the naive consumer, kafkajs consuming the topic doing nothing, a raw COPY.
 *
 * For each step: offered and sent rates; wagers applied and visible in the projector per second
 * (from the first send until the projector serves the exact totals: the Postgres meters equal the
 * load generator's independent BigInt ledger, dead letters by reason equal what was sent, and the
 * projector's amounts and versions equal Postgres'); the producer's acknowledgement latency; the
 * end-to-end latency sent → visible (p50/p95/p99 of the probes); CPU seconds per 10,000 wagers and
 * peak RSS of every process (the services, this process, the broker, Postgres: see
 * bench/e2e/sampler.ts); Postgres rows written per second (pg_stat_database of the run's database,
 * read once the statistics are flushed). Results: bench/results/latest.json and latest.svg
 * (`--quick`: quick.json, quick.svg); the fields are documented in bench/README.md.
 *
 * Settings: KAFKA_BROKERS, DATABASE_URL (its server; a database `jackpot_e2e_…` is created and
 * dropped), BENCH_SEED, BENCH_KEEP=1 (keep the database, topics and logs for a look afterwards),
 * BENCH_SERVICE_LOG_LEVEL (default warn; `debug` logs each aggregator window's steps in
 * .stack/logs/bench-e2e-aggregator-*.log).
 *
 * Why one file: it is one script whose steps share the run's database, topics, processes and
 * samplers, read top to bottom; what stands alone is in bench/e2e/ (/proc accounting, sampler,
 * baselines, chart) and bench/lib/.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS, list } from '../shared/src/config.js';
import { createPool, withClient } from '../shared/src/db.js';
import { validateJackpotConfig, type JackpotConfig } from '../shared/src/domain/index.js';
import { toError } from '../shared/src/errors.js';
import { putJackpot } from '../shared/src/jackpot-store.js';
import { createKafka } from '../shared/src/kafka.js';
import { ensureBuilt } from '../infra/build.js';
import { kafkaStatus } from '../infra/kafka.js';
import { PINNED_KAFKA_VERSION } from '../infra/kafka-jars.js';
import { migrate } from '../infra/migrate.js';
import { freePort } from '../infra/processes.js';
import { startService, stopService, type ServiceSpec } from '../infra/stack.js';
import { createTopic } from '../infra/topics.js';
import { runLoad, type LoadReport } from '../loadgen/src/run.js';
import {
  checkDeadLetters,
  checkPools,
  mergeDeadLetters,
  mergeExpectations,
} from '../loadgen/src/demo/checks.js';
import { demoJackpots } from '../loadgen/src/demo/configure.js';
import { takeSnapshot } from '../loadgen/src/demo/database.js';
import { projectorPools } from '../loadgen/src/demo/http.js';
import { formatTable, group } from '../loadgen/src/demo/report.js';
import { consumeNothing, prefillTopic, rawCopy, type BaselineRun } from './e2e/baselines.js';
import { renderChart } from './e2e/chart.js';
import { perWager } from './e2e/proc-stat.js';
import { createSampler, type Sampler } from './e2e/sampler.js';
import { runNaive, type NaiveRun } from './lib/naive-consumer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The producer's ceiling stands for "as fast as it goes": in-flight events are capped below. */
const MAX_OFFERED = 200_000;
const QUICK = process.argv.includes('--quick');
/**
 * `--rates 1000,5000`: only the warm-up and these offered rates with 2 replicas (no maximum, drain,
 * replica counts or baselines), written to bench/results/rates.json: for latency work, ~1 minute a rate.
 */
const RATES = ratesArg(process.argv);
const RESULTS = join(HERE, 'results', RATES !== null ? 'rates' : QUICK ? 'quick' : 'latest');

function ratesArg(argv: readonly string[]): number[] | null {
  const i = argv.indexOf('--rates');
  if (i < 0) return null;
  const rates = (argv[i + 1] ?? '').split(',').map(Number);
  if (rates.length === 0 || !rates.every((r) => Number.isInteger(r) && r > 0 && r <= MAX_OFFERED))
    throw new Error(
      `--rates takes offered rates a second, e.g. --rates 1000,5000 (got ${argv[i + 1] ?? 'nothing'})`,
    );
  return rates;
}

interface Plan {
  readonly warmupSeconds: number;
  readonly stepSeconds: number;
  readonly maxSeconds: number;
  /** Offered rates besides the fractions of the maximum. */
  readonly fixedRates: readonly number[];
  readonly fractionsOfMax: readonly number[];
  readonly naiveEvents: number;
  readonly nothingMessages: number;
  readonly copyWagers: number;
}

const PLAN: Plan = QUICK
  ? {
      warmupSeconds: 4,
      stepSeconds: 10,
      maxSeconds: 10,
      fixedRates: [5000],
      fractionsOfMax: [0.5],
      naiveEvents: 1000,
      nothingMessages: 100_000,
      copyWagers: 50_000,
    }
  : {
      warmupSeconds: 8,
      stepSeconds: 30,
      maxSeconds: 30,
      fixedRates: [1000, 5000],
      fractionsOfMax: [0.25, 0.5, 0.75],
      naiveEvents: 5000,
      nothingMessages: 500_000,
      copyWagers: 300_000,
    };

/**
 * 10,000: as fast as 40,000 on this machine (measured: the broker acknowledges at the same rate),
 * with a quarter of the queueing in front of the broker, so a probe's latency is less the load
 * generator's own queue, and less of this process's heap (garbage collection was a third of its CPU).
 */
const MAX_IN_FLIGHT = 10_000;
/**
 * Each step's traffic is made before its clock starts (LoadOptions.pregenerate): at most this many
 * events a second of a maximum run (~190 bytes each, outside the JS heap); a run that uses them all
 * up stops early and says so. `BENCH_PREGENERATE=0` makes them while sending, as the demo does.
 */
const PREGENERATE_PER_S = 70_000;
const PREGENERATE = process.env['BENCH_PREGENERATE'] !== '0';
const MAX_REPLICAS = 4;
/** pg_stat_database is flushed by an idle backend within 10 s (PGSTAT_IDLE_INTERVAL). */
const STATS_SETTLE_MS = 10_500;
const VISIBLE_TIMEOUT_MS = 300_000;
const SAMPLE_MS = 250;
const JACKPOTS = ['demo-eu', 'probe'];

const TARGETS = {
  wagersPerS: 50_000,
  ratioToNaive: 20,
  p99At5000Ms: 250,
  p99AtHalfMaxMs: 1000,
  rssMb: 100,
};

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ProcessResult {
  readonly name: string;
  readonly cpuSeconds: number;
  readonly cpuSecondsPer10kWagers: number;
  readonly cpuUsPerWager: number;
  readonly peakRssMb: number;
}

interface StepResult {
  readonly label: string;
  /**
   * `rate`: a fixed offered rate; `max`: the producer as fast as it goes, the pipeline running;
   * `drain`: the same traffic put on the topic with no aggregator running, then the replicas
   * started and timed from ready until the projector shows it all (the pipeline's own rate, with
   * no producer competing for the cores).
   */
  readonly kind: 'rate' | 'max' | 'drain';
  readonly offeredPerS: number | null;
  readonly replicas: number;
  readonly loadSeconds: number;
  readonly sent: {
    readonly events: number;
    readonly wagers: number;
    readonly duplicates: number;
    readonly invalid: number;
    readonly probes: number;
    readonly perS: number;
    readonly ackLatencyMs: LoadReport['ackLatencyMs'];
  };
  readonly applied: {
    readonly wagers: number;
    /** From the first send until the projector served the exact totals. */
    readonly secondsToVisible: number;
    /** After the producer's last acknowledgement. */
    readonly tailSeconds: number;
    readonly wagersPerS: number;
    /**
     * The pipeline kept pace with the producer: everything was visible within a second of the last
     * acknowledgement, so a maximum run measured the producer's rate, a lower bound of the pipeline's.
     */
    readonly producerBound: boolean;
    /** `drain`: from starting the replicas to all of them ready (not in `secondsToVisible`, which starts at ready). */
    readonly startSeconds: number | null;
  };
  readonly latencyMs: {
    readonly probes: number;
    readonly timeouts: number;
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly max: number;
  } | null;
  readonly processes: readonly ProcessResult[];
  readonly postgres: { readonly rowsWritten: number; readonly rowsPerS: number };
  readonly verified: boolean;
  readonly problems: readonly string[];
}

interface Bench {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly db: pg.Pool;
  readonly dbName: string;
  readonly dbUrl: string;
  readonly brokers: readonly string[];
  readonly env: Record<string, string>;
  readonly sampler: Sampler;
  readonly topic: string;
  readonly projectorUrl: string;
  readonly aggregators: Map<string, ServiceSpec>;
  /** CPU seconds per process spent waiting for autovacuum between steps (`waitQuiet`). */
  readonly betweenSteps: Map<string, number>;
}

/** The machine a result was measured on, and its load before the run and now. */
function machineOf(loadBefore: readonly number[]) {
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavgBefore: loadBefore.map((l) => round(l, 2)),
    loadavgAfter: loadavg().map((l) => round(l, 2)),
  };
}

/** `--rates`: the given offered rates with 2 replicas, a summary, and bench/results/rates.json. */
async function ratesOnly(
  b: Bench,
  rates: readonly number[],
  seed: string,
  startedAt: Date,
  loadBefore: readonly number[],
  t0: number,
): Promise<number> {
  const steps: StepResult[] = [];
  for (const rate of rates)
    steps.push(
      await runStep(
        b,
        { label: `${group(rate)}/s, 2 replicas`, kind: 'rate', rate, seconds: PLAN.stepSeconds, replicas: 2 },
        seed,
      ),
    );
  log('\n== summary (--rates)');
  for (const l of formatTable(
    ['step', 'applied+visible/s', 'p50 ms', 'p95 ms', 'p99 ms', 'ack p99 ms', 'CPU s / s', 'exact'],
    steps.map((s) => [
      s.label,
      group(s.applied.wagersPerS),
      String(s.latencyMs?.p50 ?? '-'),
      String(s.latencyMs?.p95 ?? '-'),
      String(s.latencyMs?.p99 ?? '-'),
      String(s.sent.ackLatencyMs.p99),
      (
        s.processes
          .filter((p) => p.name !== 'postgres (whole server)')
          .reduce((n, p) => n + p.cpuSeconds, 0) / s.applied.secondsToVisible
      ).toFixed(2),
      s.verified ? 'yes' : 'NO',
    ]),
    'lrrrrrrl',
  ))
    log(`   ${l}`);
  const result = {
    benchmark: 'end to end, --rates',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineOf(loadBefore),
    settings: { seed, rates, stepSeconds: PLAN.stepSeconds },
    steps,
    verified: steps.every((s) => s.verified),
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(`${RESULTS}.json`, `${JSON.stringify(result, null, 2)}\n`);
  log(`\n   written ${RESULTS}.json (${((performance.now() - t0) / 1000 / 60).toFixed(1)} min)`);
  return result.verified ? 0 : 1;
}

async function setReplicas(b: Bench, n: number): Promise<void> {
  const names = [...b.aggregators.keys()];
  for (const name of names.slice(n).reverse()) {
    await stopService(name, { log: () => undefined, main: 'services/aggregator/src/main.ts' });
    b.aggregators.delete(name);
    b.sampler.untrack(name.replace(/^bench-e2e-/, ''));
  }
  const starting: Promise<void>[] = [];
  for (let i = b.aggregators.size + 1; i <= n; i++) {
    const spec: ServiceSpec = {
      name: `bench-e2e-aggregator-${i}`,
      main: 'services/aggregator/src/main.ts',
      portEnv: 'AGGREGATOR_PORT',
      port: await freePort(),
    };
    b.aggregators.set(spec.name, spec);
    starting.push(
      startService(spec, { log: () => undefined, env: b.env }).then(({ started, pid }) => {
        if (!started) throw new Error(`${spec.name} was already running (pid ${pid}): another bench?`);
        b.sampler.track(spec.name.replace(/^bench-e2e-/, ''), pid);
      }),
    );
  }
  await Promise.all(starting);
}

async function pgRows(b: Bench): Promise<number> {
  const r = await b.db.query<{ n: string }>(
    'SELECT (tup_inserted + tup_updated + tup_deleted)::text AS n FROM pg_stat_database WHERE datname = $1',
    [b.dbName],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Waits until the projector serves exactly what the step sent: Postgres' lifetime meters moved by
 * the load generator's ledger, dead letters by reason, and the projector's pools equal to
 * pool_totals. Returns when that first held, or the problems at the timeout.
 */
async function waitVisible(
  b: Bench,
  before: Awaited<ReturnType<typeof takeSnapshot>>,
  report: LoadReport,
): Promise<{ at: number; problems: string[] }> {
  const expected = mergeExpectations([report]);
  const expectedDead = mergeDeadLetters([report]);
  const exact = report.unconfirmed === 0 && report.expected.unconfirmedInvalid === 0;
  const until = performance.now() + VISIBLE_TIMEOUT_MS;
  for (;;) {
    const now = await takeSnapshot(b.db, JACKPOTS);
    const served = await projectorPools(b.projectorUrl).catch(() => new Map<string, never>());
    const at = performance.now();
    const problems = [
      ...checkPools(before, now, expected, exact)
        .filter((c) => c.verdict !== 'OK')
        .map(
          (c) =>
            `${c.poolId}: visible ${c.actualVisibleMicro} µ, expected ${c.expectedVisibleMicro}; reserve ${c.actualReserveMicro}, expected ${c.expectedReserveMicro}`,
        ),
      ...checkDeadLetters(before.deadLetters, now.deadLetters, expectedDead, exact)
        .filter((c) => c.verdict !== 'OK')
        .map((c) => `dead letters ${c.reason}: ${c.actual}, expected ${c.expected}`),
      ...[...now.pools.values()]
        .filter((p) => {
          const q = served.get(p.poolId);
          return q?.version !== p.version || q.amountMinor !== p.amountMinor.toString();
        })
        .map((p) => `projector ${p.poolId}: not yet version ${p.version} / ${p.amountMinor}`),
    ];
    if (!exact) problems.push(`${report.unconfirmed} wagers never acknowledged: totals are a lower bound`);
    if (problems.length === 0 || at > until) return { at, problems };
    await sleep(50);
  }
}

/**
 * Waits (up to 120 s) until no autovacuum worker runs on the run's database, so that a step does
 * not pay for the vacuum and analyze of what the previous one inserted (after a drain of ~800,000
 * wagers, about 30 s of a core). That CPU is the write path's too: it is added up over the run as
 * `betweenSteps` and reported, not dropped.
 */
async function waitQuiet(b: Bench, between: Map<string, number>): Promise<void> {
  const mark = await b.sampler.mark();
  const until = performance.now() + 120_000;
  let waited = false;
  for (;;) {
    const r = await b.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'autovacuum worker'",
      [b.dbName],
    );
    if (Number(r.rows[0]?.n ?? 0) === 0 || performance.now() > until) break;
    if (!waited) log("   waiting for autovacuum on the run's database to finish before the next step");
    waited = true;
    await sleep(1000);
  }
  for (const f of await b.sampler.figures(mark))
    between.set(f.name, round((between.get(f.name) ?? 0) + f.cpuSeconds, 3));
}

let stepNumber = 0;

async function runStep(
  b: Bench,
  step: { label: string; kind: 'rate' | 'max' | 'drain'; rate: number; seconds: number; replicas: number },
  seed: string,
): Promise<StepResult> {
  const flat = step.kind !== 'rate';
  log(
    `\n-- ${step.label}: ${flat ? 'as fast as the producer goes' : `${group(step.rate)}/s`} for ${step.seconds} s, ` +
      (step.kind === 'drain'
        ? `no aggregator running, then ${step.replicas} replica(s) drain it`
        : `${step.replicas} aggregator replica(s)`),
  );
  await waitQuiet(b, b.betweenSteps);
  if (step.kind === 'drain') await setReplicas(b, 0);
  const before = await takeSnapshot(b.db, JACKPOTS);
  const rowsBefore = await pgRows(b);
  // Set when the load generator starts its clock: after it made the step's traffic, which a game
  // server does on its own machine.
  let mark = await b.sampler.mark();
  let t0 = performance.now();
  let lastLine = 0;
  const report = await runLoad({
    via: 'kafka',
    rate: step.rate,
    durationSeconds: step.seconds,
    dupRate: 0.02,
    invalidRate: 0.005,
    // A seed of its own per step: the same seed twice sends the same event ids, i.e. only duplicates.
    seed: (Number.parseInt(seed, 10) || 1) * 1000 + ++stepNumber,
    concurrency: flat ? 4 : 2,
    // As fast as it goes: larger produce requests, so that the producer's round trips (one request
    // in flight per producer) are not what limits the run.
    ...(flat ? { producerMaxBatch: 2000 } : {}),
    maxInFlight: flat ? MAX_IN_FLIGHT : Math.max(1000, step.rate),
    ...(PREGENERATE
      ? { pregenerate: { maxEvents: Math.min(step.rate, PREGENERATE_PER_S) * step.seconds } }
      : {}),
    // The first 2 s of a step (the rate ramping up from idle, windows and fetches resizing) apart.
    probe: step.kind === 'drain' ? false : { intervalMs: 20, pollMs: 5, timeoutMs: 30_000, warmupMs: 2000 },
    databaseUrl: b.dbUrl,
    kafkaBrokers: b.brokers,
    topic: b.topic,
    projectorUrl: b.projectorUrl,
    drainTimeoutMs: 120_000,
    onProgress: (p) => {
      if (p.elapsedSeconds - lastLine < 5) return;
      lastLine = p.elapsedSeconds;
      log(
        `   ${p.elapsedSeconds.toFixed(0).padStart(3)} s  sent ${group(p.sent)} (${group(p.rate)}/s)  acked ${group(p.acked)}  ` +
          `ack p99 ${p.ackLatencyMs.p99.toFixed(0)} ms` +
          (p.probe === null
            ? ''
            : `  visible p50/p99 ${p.probe.p50.toFixed(0)}/${p.probe.p99.toFixed(0)} ms (${p.probe.count} probes)`),
      );
    },
    onNotice: (m) => log(`   notice: ${m}`),
    beforeStart: async () => {
      mark = await b.sampler.mark();
      t0 = performance.now();
    },
  });
  let ackedAt = t0 + report.elapsedSeconds * 1000;
  log(
    `   sent ${group(report.sent)} events in ${report.sendSeconds} s (${group(report.achievedRate)}/s), ` +
      (step.kind === 'drain'
        ? `starting ${step.replicas} replica(s)`
        : 'waiting for the projector to show them'),
  );
  let from = t0;
  let startSeconds: number | null = null;
  if (step.kind === 'drain') {
    mark = await b.sampler.mark();
    const starting = performance.now();
    await setReplicas(b, step.replicas);
    from = performance.now();
    ackedAt = from;
    startSeconds = round((from - starting) / 1000, 3);
  }
  const visible = await waitVisible(b, before, report);
  const figures = await b.sampler.figures(mark);
  const seconds = (visible.at - from) / 1000;
  const wagers = report.distinct;
  // The statistics of the run's database reach pg_stat_database once its backends flush them.
  await sleep(Math.max(0, STATS_SETTLE_MS - (performance.now() - visible.at)));
  const rows = (await pgRows(b)) - rowsBefore;
  const p = report.probe.latencyMs;
  const result: StepResult = {
    label: step.label,
    kind: step.kind,
    offeredPerS: flat ? null : step.rate,
    replicas: step.replicas,
    loadSeconds: step.seconds,
    sent: {
      events: report.sent,
      wagers,
      duplicates: report.duplicates,
      invalid: Object.values(report.invalid).reduce((s, n) => s + (n ?? 0), 0),
      probes: report.probes,
      perS: report.achievedRate,
      ackLatencyMs: report.ackLatencyMs,
    },
    applied: {
      wagers,
      secondsToVisible: round(seconds, 3),
      tailSeconds: round((visible.at - ackedAt) / 1000, 3),
      wagersPerS: Math.round(wagers / seconds),
      producerBound: step.kind === 'max' && (visible.at - ackedAt) / 1000 < 1,
      startSeconds,
    },
    latencyMs:
      p === null
        ? null
        : {
            probes: report.probe.visible,
            timeouts: report.probe.timeouts,
            p50: p.p50,
            p95: p.p95,
            p99: p.p99,
            max: p.max,
          },
    processes: figures.map((f) => ({
      name: f.name,
      cpuSeconds: f.cpuSeconds,
      ...perWagerOf(f.cpuSeconds, wagers),
      peakRssMb: f.peakRssMb,
    })),
    postgres: { rowsWritten: rows, rowsPerS: Math.round(rows / seconds) },
    verified: visible.problems.length === 0,
    problems: visible.problems,
  };
  printStep(result);
  return result;
}

function perWagerOf(cpu: number, wagers: number): { cpuSecondsPer10kWagers: number; cpuUsPerWager: number } {
  const p = perWager(cpu, wagers);
  return { cpuSecondsPer10kWagers: p.cpuSecondsPer10k, cpuUsPerWager: p.cpuUsPerWager };
}

function printStep(r: StepResult): void {
  log(
    `   ${r.verified ? 'exact' : 'NOT VERIFIED'}: ${group(r.applied.wagers)} wagers applied and visible in ${r.applied.secondsToVisible} s = ` +
      `${group(r.applied.wagersPerS)} wagers/s (${r.kind === 'drain' ? `from all replicas ready, which took ${r.applied.startSeconds ?? '-'} s to start` : `tail after the last ack ${r.applied.tailSeconds} s`}` +
      `${r.kind === 'max' && r.applied.producerBound ? ": the pipeline kept pace with the producer, so this is the producer's rate" : ''}); ` +
      `ack p99 ${r.sent.ackLatencyMs.p99} ms; ` +
      (r.latencyMs === null
        ? 'no latency probe seen'
        : `sent → visible p50 ${r.latencyMs.p50} / p95 ${r.latencyMs.p95} / p99 ${r.latencyMs.p99} ms (${r.latencyMs.probes} probes)`) +
      `; Postgres ${group(r.postgres.rowsPerS)} rows/s`,
  );
  for (const p of r.problems.slice(0, 8)) log(`   problem: ${p}`);
  for (const l of formatTable(
    ['process', 'CPU s', 'CPU s / 10k wagers', 'µs / wager', 'peak RSS MB'],
    r.processes.map((p) => [
      p.name,
      p.cpuSeconds.toFixed(2),
      p.cpuSecondsPer10kWagers.toFixed(3),
      p.cpuUsPerWager.toFixed(1),
      p.peakRssMb === 0 ? '-' : p.peakRssMb.toFixed(0),
    ]),
    'lrrrr',
  ))
    log(`     ${l}`);
}

async function createDatabase(
  admin: pg.Client,
  serverUrl: URL,
  prefix: string,
): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString(), () => undefined);
  return { name, url: url.toString() };
}

function jackpotConfigs(): JackpotConfig[] {
  return demoJackpots()
    .filter((j) => JACKPOTS.includes(j.jackpotId))
    .map((j) => {
      const v = validateJackpotConfig(j.jackpotId, { currency: j.currency, pools: j.pools, games: j.games });
      if (!v.ok) throw new Error(`${j.jackpotId}: ${JSON.stringify(v.details)}`);
      return v.config;
    });
}

async function main(): Promise<number> {
  const env = process.env;
  const seed = env['BENCH_SEED'] ?? '1';
  const keep = env['BENCH_KEEP'] === '1';
  const brokers = list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);
  const serverUrl = new URL(env['DATABASE_URL'] || DEFAULT_DATABASE_URL);
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const startedAt = new Date();
  const loadBefore = loadavg();
  log(
    `== end-to-end bench${QUICK ? ' (--quick)' : ''}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GB, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')} ==`,
  );

  const pgAdmin = new pg.Client({ connectionString: adminUrl.toString(), application_name: 'e2e-bench' });
  await pgAdmin.connect();
  const kafka = createKafka({ brokers, clientId: 'e2e-bench' });
  const admin = kafka.admin();
  await admin.connect();
  const suffix = randomBytes(4).toString('hex');
  const topics = {
    AGGREGATOR_TOPIC: `bench-e2e.wagers.${suffix}`,
    POOL_UPDATES_TOPIC: `bench-e2e.pool-updates.${suffix}`,
    DLQ_TOPIC: `bench-e2e.dlq.${suffix}`,
    AWARDS_TOPIC: `bench-e2e.awards.${suffix}`,
  };
  const naiveTopic = `bench-e2e.naive.${suffix}`;
  const createdTopics: string[] = [];
  const databases: string[] = [];
  const pools: pg.Pool[] = [];
  let bench: Bench | undefined;
  let projector: ServiceSpec | undefined;
  let sampler: Sampler | undefined;

  /** Stops the services and removes the run's databases and topics (unless BENCH_KEEP=1); once. */
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      if (bench !== undefined) await setReplicas(bench, 0).catch(() => undefined);
      if (projector !== undefined)
        await stopService(projector.name, { log: () => undefined, main: projector.main }).catch(
          () => undefined,
        );
      await sampler?.stop();
      if (!keep) {
        await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
        for (const p of pools) await p.end().catch(() => undefined);
        for (const name of databases)
          await pgAdmin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      } else {
        for (const p of pools) await p.end().catch(() => undefined);
        log(`   kept: databases ${databases.join(', ')}, topics ${createdTopics.join(', ')}`);
      }
      await admin.disconnect().catch(() => undefined);
      await pgAdmin.end().catch(() => undefined);
    })());
  // Ctrl-C or a kill: the services run detached (their own process groups), so without this they
  // would outlive the benchmark and keep writing to its database.
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`\n   ${signal}: stopping the services and removing the run's database and topics`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    const t0 = performance.now();
    const [, main] = await Promise.all([ensureBuilt(), createDatabase(pgAdmin, serverUrl, 'jackpot_e2e')]);
    databases.push(main.name);
    const db = createPool(main.url, { max: 3, applicationName: 'e2e-bench' });
    db.on('error', () => undefined);
    pools.push(db);
    const configs = jackpotConfigs();
    for (const c of configs) {
      const put = await withClient(db, (cl) => putJackpot(cl, c, { actor: 'e2e-bench' }));
      if (!put.ok) throw new Error(`jackpot ${c.jackpotId} not stored: ${JSON.stringify(put)}`);
    }
    for (const [topic, partitions, configs] of [
      [topics.AGGREGATOR_TOPIC, 12, {}],
      [topics.POOL_UPDATES_TOPIC, 3, { 'cleanup.policy': 'compact' }],
      [topics.DLQ_TOPIC, 3, {}],
      [topics.AWARDS_TOPIC, 3, {}],
      [naiveTopic, 12, {}],
    ] as const) {
      await createTopic(admin, { topic, partitions, configs });
      createdTopics.push(topic);
    }
    // The sampler's pg_stat_activity queries go to the `postgres` database, not ours.
    const statsPool = createPool(adminUrl.toString(), { max: 1, applicationName: 'e2e-bench-sampler' });
    pools.push(statsPool);
    sampler = await createSampler({ db: statsPool, database: main.name, intervalMs: SAMPLE_MS });
    sampler.track('load generator (this process)', process.pid);
    const broker = await kafkaStatus({ brokers });
    if (broker.pid !== undefined) sampler.track('kafka broker', broker.pid);
    else
      log(`   the broker on ${brokers.join(',')} was not started by this checkout: its CPU is not measured`);

    const serviceEnv: Record<string, string> = {
      DATABASE_URL: main.url,
      ...topics,
      PROJECTOR_TOPIC: topics.POOL_UPDATES_TOPIC,
      AGGREGATOR_GROUP_ID: `bench-e2e.${suffix}`,
      LOG_LEVEL: process.env['BENCH_SERVICE_LOG_LEVEL'] ?? 'warn',
    };
    projector = {
      name: 'bench-e2e-projector',
      main: 'services/projector/src/main.ts',
      portEnv: 'PROJECTOR_PORT',
      port: await freePort(),
    };
    bench = {
      kafka,
      admin,
      db,
      dbName: main.name,
      dbUrl: main.url,
      brokers,
      env: serviceEnv,
      sampler,
      topic: topics.AGGREGATOR_TOPIC,
      projectorUrl: `http://127.0.0.1:${projector.port}`,
      aggregators: new Map(),
      betweenSteps: new Map(),
    };
    const b = bench;
    const started = await startService(projector, { log: () => undefined, env: serviceEnv });
    sampler.track('projector', started.pid);
    await setReplicas(b, 2);
    // A new pool reaches the projector with its next resync from Postgres (1 s).
    for (let i = 0; i < 100; i++) {
      const served = await projectorPools(b.projectorUrl).catch(() => new Map());
      if (served.has('probe:main')) break;
      await sleep(200);
    }
    log(
      `   set up in ${((performance.now() - t0) / 1000).toFixed(1)} s: database ${main.name}, topics *.${suffix}, projector and 2 aggregators (logs: .stack/logs/bench-e2e-*.log)`,
    );

    const steps: StepResult[] = [];
    await runStep(
      b,
      { label: 'warm-up', kind: 'rate', rate: 2000, seconds: PLAN.warmupSeconds, replicas: 2 },
      seed,
    );
    if (RATES !== null) return await ratesOnly(b, RATES, seed, startedAt, loadBefore, t0);
    const max2 = await runStep(
      b,
      { label: 'maximum, 2 replicas', kind: 'max', rate: MAX_OFFERED, seconds: PLAN.maxSeconds, replicas: 2 },
      seed,
    );
    steps.push(max2);
    const rates = [
      ...new Set([
        ...PLAN.fixedRates,
        ...PLAN.fractionsOfMax.map((f) =>
          Math.max(500, Math.round((max2.applied.wagersPerS * f) / 500) * 500),
        ),
      ]),
    ].sort((x, y) => x - y);
    for (const rate of rates)
      steps.push(
        await runStep(
          b,
          {
            label: `${group(rate)}/s, 2 replicas`,
            kind: 'rate',
            rate,
            seconds: PLAN.stepSeconds,
            replicas: 2,
          },
          seed,
        ),
      );
    steps.push(
      await runStep(
        b,
        {
          label: 'drain, 2 replicas',
          kind: 'drain',
          rate: MAX_OFFERED,
          seconds: PLAN.maxSeconds,
          replicas: 2,
        },
        seed,
      ),
    );
    for (const replicas of [1, MAX_REPLICAS]) {
      await setReplicas(b, replicas);
      steps.push(
        await runStep(
          b,
          {
            label: `maximum, ${replicas} replica${replicas > 1 ? 's' : ''}`,
            kind: 'max',
            rate: MAX_OFFERED,
            seconds: PLAN.maxSeconds,
            replicas,
          },
          seed,
        ),
      );
    }
    await setReplicas(b, 0);

    // ---- baselines
    log('\n-- baselines, same machine, same run');
    const baselines: {
      naive: NaiveRun | null;
      kafkajsNothing: BaselineRun | null;
      rawCopy: BaselineRun | null;
      errors: string[];
    } = {
      naive: null,
      kafkajsNothing: null,
      rawCopy: null,
      errors: [],
    };
    const eu = configs.find((c) => c.jackpotId === 'demo-eu');
    if (eu === undefined) throw new Error('demo-eu missing');
    try {
      const naiveDb = await createDatabase(pgAdmin, serverUrl, 'jackpot_e2e_naive');
      databases.push(naiveDb.name);
      const naivePool = createPool(naiveDb.url, { max: 2, applicationName: 'e2e-bench-naive' });
      naivePool.on('error', () => undefined);
      pools.push(naivePool);
      const put = await withClient(naivePool, (cl) => putJackpot(cl, eu, { actor: 'e2e-bench' }));
      if (!put.ok) throw new Error(`naive jackpot not stored: ${JSON.stringify(put)}`);
      await prefillTopic(kafka, naiveTopic, eu, PLAN.naiveEvents);
      baselines.naive = await runNaive(
        kafka,
        { url: naiveDb.url, pool: naivePool },
        eu,
        naiveTopic,
        PLAN.naiveEvents,
        600,
      );
      log(
        `   naive consumer (INSERT per ledger row + UPDATE per wager): ${group(baselines.naive.appliedPerS)} wagers/s (${group(baselines.naive.events)} events in ${baselines.naive.seconds} s)`,
      );
    } catch (e) {
      baselines.errors.push(`naive: ${toError(e).message}`);
      log(`   naive consumer failed: ${toError(e).message}`);
    }
    try {
      const total = steps.reduce((s, r) => s + r.sent.events + r.sent.probes, 0);
      baselines.kafkajsNothing = await consumeNothing(
        kafka,
        topics.AGGREGATOR_TOPIC,
        Math.min(PLAN.nothingMessages, total),
      );
      log(
        `   kafkajs consuming the wager topic, doing nothing: ${group(baselines.kafkajsNothing.perS)} messages/s (${baselines.kafkajsNothing.cpuUsPerMessage} µs CPU a message)`,
      );
    } catch (e) {
      baselines.errors.push(`kafkajs: ${toError(e).message}`);
      log(`   kafkajs baseline failed: ${toError(e).message}`);
    }
    try {
      baselines.rawCopy = await rawCopy(db, eu, PLAN.copyWagers);
      log(
        `   raw COPY of the same wagers into a plain table: ${group(baselines.rawCopy.perS)} rows/s (${group(baselines.rawCopy.messages)} rows in ${baselines.rawCopy.seconds} s)`,
      );
    } catch (e) {
      baselines.errors.push(`copy: ${toError(e).message}`);
      log(`   raw COPY baseline failed: ${toError(e).message}`);
    }

    // ---- summary
    const best = [...steps]
      .filter((s) => s.kind === 'max' && s.verified)
      .sort((x, y) => y.applied.wagersPerS - x.applied.wagersPerS)[0];
    const ours = best?.applied.wagersPerS ?? 0;
    const drain = steps.find((s) => s.kind === 'drain' && s.verified);
    const ratio = (base: number | undefined): number | null =>
      base === undefined || base <= 0 ? null : round(ours / base, 2);
    const ratios = {
      toNaive: ratio(baselines.naive?.appliedPerS),
      toKafkajsNothing: ratio(baselines.kafkajsNothing?.perS),
      toRawCopy: ratio(baselines.rawCopy?.perS),
    };
    const at5000 = steps.find((s) => s.kind === 'rate' && s.offeredPerS === 5000);
    const halfMax = steps.find(
      (s) =>
        s.kind === 'rate' &&
        s.offeredPerS ===
          rates.find((r) => r !== 5000 && r !== 1000 && Math.abs(r - max2.applied.wagersPerS * 0.5) < 501),
    );
    // Issue 8's target: "every Node service < 100 MB RSS at those rates", the rates of the two
    // latency targets (5,000/s and half the maximum). The largest peak of any step (maxima and
    // drains, and a low rate right after a maximum, while V8 still holds what it left) is reported
    // beside it, not hidden.
    const peakNodeRss = (of: readonly (StepResult | undefined)[]): number =>
      Math.max(
        0,
        ...of.flatMap((s) =>
          (s?.processes ?? [])
            .filter((p) => p.name.startsWith('aggregator-') || p.name === 'projector')
            .map((p) => p.peakRssMb),
        ),
      );
    const nodeRss = peakNodeRss([at5000, halfMax]);
    const nodeRssAnyStep = peakNodeRss(steps);
    const targets = {
      wagersPerS: { target: TARGETS.wagersPerS, measured: ours, met: ours >= TARGETS.wagersPerS },
      ratioToNaive: {
        target: TARGETS.ratioToNaive,
        measured: ratios.toNaive,
        met: (ratios.toNaive ?? 0) >= TARGETS.ratioToNaive,
      },
      p99At5000Ms: {
        target: TARGETS.p99At5000Ms,
        measured: at5000?.latencyMs?.p99 ?? null,
        met: (at5000?.latencyMs?.p99 ?? Infinity) < TARGETS.p99At5000Ms,
      },
      p99AtHalfMaxMs: {
        target: TARGETS.p99AtHalfMaxMs,
        offeredPerS: halfMax?.offeredPerS ?? null,
        measured: halfMax?.latencyMs?.p99 ?? null,
        met: (halfMax?.latencyMs?.p99 ?? Infinity) < TARGETS.p99AtHalfMaxMs,
      },
      nodeServiceRssMb: {
        target: TARGETS.rssMb,
        measured: nodeRss,
        met: at5000 !== undefined && halfMax !== undefined && nodeRss > 0 && nodeRss < TARGETS.rssMb,
        anyStepMb: nodeRssAnyStep,
      },
    };
    log('\n== summary');
    for (const l of formatTable(
      [
        'step',
        'offered/s',
        'sent/s',
        'applied+visible/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'ack p99 ms',
        'PG rows/s',
        'exact',
      ],
      steps.map((s) => [
        s.label,
        s.offeredPerS === null ? s.kind : group(s.offeredPerS),
        group(s.sent.perS),
        `${group(s.applied.wagersPerS)}${s.kind === 'max' && s.applied.producerBound ? ' (producer-bound)' : ''}`,
        s.latencyMs === null ? '-' : String(s.latencyMs.p50),
        s.latencyMs === null ? '-' : String(s.latencyMs.p95),
        s.latencyMs === null ? '-' : String(s.latencyMs.p99),
        String(s.sent.ackLatencyMs.p99),
        group(s.postgres.rowsPerS),
        s.verified ? 'yes' : 'NO',
      ]),
      'lrrrrrrrrl',
    ))
      log(`   ${l}`);
    log(
      `   best maximum ${group(ours)} wagers/s (${best?.label ?? '-'}) = ${ratios.toNaive ?? '-'}× the naive consumer, ` +
        `${ratios.toKafkajsNothing ?? '-'}× kafkajs doing nothing, ${ratios.toRawCopy ?? '-'}× a raw COPY`,
    );
    if (drain !== undefined)
      log(
        `   the pipeline alone (drain, no producer running): ${group(drain.applied.wagersPerS)} wagers/s = ` +
          `${baselines.naive === null ? '-' : round(drain.applied.wagersPerS / baselines.naive.appliedPerS, 2)}× the naive consumer`,
      );
    const vacuum = b.betweenSteps.get('postgres (our database)') ?? 0;
    if (vacuum > 0)
      log(
        `   between steps, waiting for autovacuum: ${vacuum.toFixed(1)} CPU s of the run's database (not in any step)`,
      );
    for (const [name, t] of Object.entries(targets))
      log(
        `   target ${name}: ${t.met ? 'met' : 'NOT met'} (measured ${t.measured ?? '-'}, target ${t.target})`,
      );
    log(
      `   (nodeServiceRssMb is the largest peak at 5,000/s and at half the maximum; in any step, maxima and drains included: ${nodeRssAnyStep} MB)`,
    );

    const pgVersion =
      (await pgAdmin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ??
      'unknown';
    const result = {
      benchmark: 'end to end',
      mode: QUICK ? 'quick' : 'full',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { ...machineOf(loadBefore), postgres: pgVersion, kafka: PINNED_KAFKA_VERSION },
      settings: {
        seed,
        plan: PLAN,
        partitions: 12,
        jackpots: JACKPOTS,
        dupRate: 0.02,
        invalidRate: 0.005,
        sampleMs: SAMPLE_MS,
      },
      steps,
      baselines,
      best: best === undefined ? null : { label: best.label, wagersPerS: ours },
      drain: drain === undefined ? null : { label: drain.label, wagersPerS: drain.applied.wagersPerS },
      betweenStepsCpuSeconds: Object.fromEntries(b.betweenSteps),
      ratios,
      targets,
      verified: steps.every((s) => s.verified),
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(`${RESULTS}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(
      `${RESULTS}.svg`,
      renderChart({
        title: `End to end, ${cpus().length} cores: Kafka, Postgres and every service on one machine`,
        subtitle: `${startedAt.toISOString().slice(0, 16)}Z, ${QUICK ? 'quick' : 'full'} run; best ${group(ours)} wagers/s exact (${best?.label ?? '-'}); naive ×${ratios.toNaive ?? '-'}; drain ${group(drain?.applied.wagersPerS ?? 0)}/s`,
        points: steps
          .filter((s) => s.kind !== 'drain')
          .map((s) => ({
            offered: s.offeredPerS,
            sent: s.sent.perS,
            applied: s.applied.wagersPerS,
            replicas: s.replicas,
            latency: s.latencyMs,
          })),
      }),
    );
    log(
      `\n   written ${RESULTS}.json and ${RESULTS}.svg (${((performance.now() - t0) / 1000 / 60).toFixed(1)} min)`,
    );
    return result.verified ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`e2e bench: ${toError(e).stack ?? toError(e).message}\n`);
    process.exit(2);
  },
);
