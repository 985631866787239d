/**
 * `runLoad(options)`: generate realistic wager traffic at a target rate for a while, through Kafka
 * or the gateway, measure acknowledgement and end-to-end latency, and return what the pipeline
 * must now show (the ledger's expectation per pool). The CLI (`main.ts`) and the demo call this.
 *
 * Nothing here prints: progress and notices go to callbacks, so a caller decides where they show.
 *
 * Why one file of ~550 lines: a third is the options and report types (the interface the CLI, the
 * demo and `npm run bench` share), the rest is `runLoad`, one pacing loop whose senders, latency
 * probe and expected-ledger bookkeeping share its clock and counters; the parts that stand alone
 * (traffic, senders, probe, ledger, histogram) are modules of their own.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { commonConfig, int } from '../../shared/src/config.js';
import { AppError, toError } from '../../shared/src/errors.js';
import { createKafka } from '../../shared/src/kafka.js';
import type { Logger } from '../../shared/src/logger.js';
import { createHistogram, type Percentiles } from './histogram.js';
import { createHttpSender } from './http-sender.js';
import { createAgent } from './http-client.js';
import { readGameShares, type GameConfig, type GameShares } from './jackpot-config.js';
import { createKafkaSender, shard, type KafkaSender } from './kafka-sender.js';
import {
  createLedger,
  poolsToJson,
  writeRecord,
  type LedgerSnapshot,
  type PoolExpectationJson,
} from './ledger.js';
import { createPacer } from './pacer.js';
import { CHUNK, mergeSnapshots, pregenerate, type Pregenerated } from './pregenerated.js';
import { createProbe, readPool, type ProbeStats } from './probe.js';
import { sleep, type Sender } from './sender.js';
import { createProbeTraffic, createTraffic, type InvalidReason, type TrafficEvent } from './traffic.js';

export interface ProbeSettings {
  /** The game reserved for probes. Default `probe-game`. */
  readonly gameId?: string;
  /** The pool polled in the projector. Default `probe:main`. */
  readonly poolId?: string;
  /** One probe every this many ms (one in flight at a time). Default 100. */
  readonly intervalMs?: number;
  /** How often the projector is polled while a probe is in flight. Default 5 ms. */
  readonly pollMs?: number;
  /** A probe not visible after this long counts as a timeout. Default 10,000 ms. */
  readonly timeoutMs?: number;
  /**
   * Probes seen during this many ms from the start are counted apart (`warmupVisible`), not in the
   * percentiles: the first seconds measure connections, metadata and a cold JIT, not the pipeline
   * at the rate asked. Default 0.
   */
  readonly warmupMs?: number;
}

export interface LoadOptions {
  readonly via: 'kafka' | 'http';
  /** Target events a second (duplicates and invalid ones included, probes not). */
  readonly rate: number;
  readonly durationSeconds: number;
  /** Use at most this many of the configured games (the first by id). Default: all. */
  readonly games?: number;
  /** Distinct players. Default 100,000. */
  readonly players?: number;
  /** Share of events that re-send an earlier wager. Default 0.02. */
  readonly dupRate?: number;
  /** Share of events that are invalid (Kafka path only). Default 0. */
  readonly invalidRate?: number;
  /**
   * Event ids: `v7` (time-ordered, as game servers are told to make them: docs/contract.md) or
   * `v4` (random). Default `v7`. Either way a seed replays the same traffic at the same times;
   * v7 ids also carry the time they were made, so a replay later sends new ids.
   */
  readonly eventIds?: 'v4' | 'v7';
  /** Default: random, reported, so a run can be replayed. With `eventIds: 'v4'` the same seed twice against one database sends only duplicates. */
  readonly seed?: number;
  /** Game API key for the HTTP path. */
  readonly apiKey?: string;
  /** Wagers per gateway request. Default 500. */
  readonly httpBatch?: number;
  /** Gateway requests in flight (HTTP path), or independent Kafka producers (Kafka path). Default 8 and 1. */
  readonly concurrency?: number;
  /** Kafka path: most wagers in one produce request of each producer. Default: the producer library's (1,000). */
  readonly producerMaxBatch?: number;
  /** Kafka path: how long a wager waits in the producer for others to share its request. Default: the library's (5 ms). */
  readonly producerLingerMs?: number;
  /**
   * Events handed over but not yet acknowledged, at most. Backpressure: the pacer waits when the
   * pipeline is this far behind. Default: one second of traffic, at least 1,000.
   */
  readonly maxInFlight?: number;
  /**
   * Kafka path: make the run's traffic before its clock starts (`pregenerated.ts`): the same seeded
   * events, encoded, keyed and priced by the same ledger beforehand, so that the timed phase only
   * hands finished messages to the producer library (a benchmark's choice: a game server makes its
   * wagers on its own machine). At most `maxEvents` are made (default: rate × duration); the run
   * stops sending early when they are used up (`notice`), and sends a whole number of chunks of
   * `CHUNK` (256) events, finishing the last one when the time is up. Latency probes stay live.
   */
  readonly pregenerate?: { readonly maxEvents?: number };
  /**
   * Awaited right before the clock starts (after connecting and any pre-generation): a benchmark
   * starts its CPU accounting and timer here, so that neither counts the preparation.
   */
  readonly beforeStart?: () => Promise<void>;
  /** How long to wait after the last event for the outstanding acknowledgements. Default 60 s. */
  readonly drainTimeoutMs?: number;
  /** `false` skips latency probes. Default on. */
  readonly probe?: boolean | ProbeSettings;
  /** The jackpot configuration; default: read from Postgres. */
  readonly config?: GameShares;
  readonly databaseUrl?: string;
  readonly kafkaBrokers?: readonly string[];
  /** Default `jackpot.wagers.v1`. */
  readonly topic?: string;
  /** Default `http://127.0.0.1:$INGEST_PORT`. */
  readonly ingestUrl?: string;
  /** Default `http://127.0.0.1:$PROJECTOR_PORT`. */
  readonly projectorUrl?: string;
  /** Write the record (options, configuration used, report) to this JSON file. */
  readonly recordPath?: string;
  /** Stops sending early; what was sent is still drained and reported. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Default 1,000 ms. */
  readonly progressIntervalMs?: number;
  /** Human-readable warnings (probe disabled, drain timed out, …). */
  readonly onNotice?: (message: string) => void;
  /** For the Kafka client's and producer's own logs. */
  readonly logger?: Logger;
}

export interface LoadProgress {
  readonly elapsedSeconds: number;
  readonly sent: number;
  /** Events a second over the last progress interval. */
  readonly rate: number;
  readonly acked: number;
  readonly errors: number;
  readonly inFlight: number;
  readonly ackLatencyMs: { readonly p50: number; readonly p99: number };
  readonly probe: { readonly count: number; readonly p50: number; readonly p99: number } | null;
}

export interface LoadReport {
  readonly via: 'kafka' | 'http';
  readonly seed: number;
  readonly targetRate: number;
  readonly targetDurationSeconds: number;
  readonly games: number;
  /** Messages sent (copies, invalid events and probes included). */
  readonly sent: number;
  /** Distinct valid wagers acknowledged: each must be in the ledger exactly once. */
  readonly distinct: number;
  /** Copies of earlier wagers sent. */
  readonly duplicates: number;
  /** Invalid events sent, by reason. */
  readonly invalid: Readonly<Partial<Record<InvalidReason, number>>>;
  readonly probes: number;
  readonly acked: number;
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Distinct wagers sent of which no copy was acknowledged: while > 0 the expectation is a lower bound. */
  readonly unconfirmed: number;
  readonly retries: number;
  readonly throttled: number;
  /** From the first event to the last acknowledgement. */
  readonly elapsedSeconds: number;
  /** The sending window alone. */
  readonly sendSeconds: number;
  /** Events sent a second during the sending window. */
  readonly achievedRate: number;
  /** Acknowledgements a second over the whole run. */
  readonly ackedRate: number;
  /** Handed to the sender → acknowledged by Kafka or the gateway, per event. */
  readonly ackLatencyMs: Percentiles;
  readonly probe: {
    readonly enabled: boolean;
    readonly poolId: string;
    /** Why there is no measurement, or why it stopped early. */
    readonly note: string | null;
    readonly visible: number;
    /** Probes seen during the warm-up (`ProbeSettings.warmupMs`), not in `latencyMs`, and the slowest. */
    readonly warmupVisible: number;
    readonly warmupMaxMs: number;
    readonly timeouts: number;
    readonly sendErrors: number;
    /** Sent → visible in the projector. */
    readonly latencyMs: Percentiles | null;
  };
  readonly expected: {
    /** Per pool, this run's contribution: exact integers as strings. */
    readonly pools: Readonly<Record<string, PoolExpectationJson>>;
    /** Dead letters this run must produce, by reason. */
    readonly deadLetters: Readonly<Partial<Record<InvalidReason, number>>>;
    /** Invalid events not acknowledged: each may or may not be a dead letter. */
    readonly unconfirmedInvalid: number;
  };
}

const TICK_MS = 10;

function check(ok: boolean, message: string): void {
  if (!ok) throw new AppError('CONFIG_INVALID', message);
}

function shareOk(v: number | undefined): boolean {
  return v === undefined || (v >= 0 && v <= 1);
}

/** Whole minor units of wager so that the contribution at `ppm` is whole minor units too. */
function probeAmount(ppm: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return 1_000_000 / gcd(ppm, 1_000_000);
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundPercentiles(p: Percentiles): Percentiles {
  return {
    p50: round(p.p50, 2),
    p90: round(p.p90, 2),
    p95: round(p.p95, 2),
    p99: round(p.p99, 2),
    max: round(p.max, 2),
  };
}

/** A snapshot with the pre-generated traffic's send errors, which its ledger did not see, added. */
function withErrors(
  snap: LedgerSnapshot,
  errors: number,
  byCode: Readonly<Record<string, number>>,
): LedgerSnapshot {
  const errorsByCode: Record<string, number> = { ...snap.errorsByCode };
  for (const [code, n] of Object.entries(byCode)) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
  return { ...snap, errors: snap.errors + errors, errorsByCode };
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const env = process.env;
  const common = commonConfig(env);
  check(
    Number.isFinite(options.rate) && options.rate > 0,
    `rate must be a positive number, got ${options.rate}`,
  );
  check(
    Number.isFinite(options.durationSeconds) && options.durationSeconds > 0,
    `duration must be a positive number of seconds, got ${options.durationSeconds}`,
  );
  check(shareOk(options.dupRate), `dup-rate must be between 0 and 1, got ${options.dupRate}`);
  check(shareOk(options.invalidRate), `invalid-rate must be between 0 and 1, got ${options.invalidRate}`);
  check(
    options.via === 'kafka' || (options.invalidRate ?? 0) === 0,
    'invalid events go through Kafka only (malformed JSON cannot travel inside a JSON batch): use --via kafka or --invalid-rate 0',
  );
  check(
    options.via !== 'http' || (options.apiKey ?? '') !== '',
    'the HTTP path needs a game API key (--api-key)',
  );
  check(
    options.pregenerate === undefined || options.via === 'kafka',
    'pre-generated traffic goes through Kafka only',
  );
  check(
    options.games === undefined || (Number.isInteger(options.games) && options.games >= 1),
    `games must be a positive integer, got ${options.games}`,
  );
  const notice = options.onNotice ?? (() => undefined);
  const seed = options.seed ?? randomInt(2 ** 31);
  const dupRate = options.dupRate ?? 0.02;
  const eventIds = options.eventIds ?? 'v7';
  const invalidRate = options.invalidRate ?? 0;
  const probeSettings: ProbeSettings | null =
    options.probe === false
      ? null
      : options.probe === true || options.probe === undefined
        ? {}
        : options.probe;
  const probeGameId = probeSettings?.gameId ?? 'probe-game';
  const probePoolId = probeSettings?.poolId ?? 'probe:main';
  const databaseUrl = options.databaseUrl ?? common.databaseUrl;
  const ingestUrl = options.ingestUrl ?? `http://127.0.0.1:${int(env, 'INGEST_PORT', 8080, 1, 65535)}`;
  const projectorUrl =
    options.projectorUrl ?? `http://127.0.0.1:${int(env, 'PROJECTOR_PORT', 8081, 1, 65535)}`;

  // --- the configuration: which games to wager on, and what each wager is worth to which pool
  let config: GameShares;
  if (options.config !== undefined) {
    config = options.config;
  } else {
    try {
      config = await readGameShares(databaseUrl);
    } catch (e) {
      throw new AppError(
        'CONFIG_INVALID',
        `cannot read the jackpot configuration from Postgres (${databaseUrl}): ${toError(e).message}`,
        { cause: e },
      );
    }
  }
  const probeGame = config.games.find((g) => g.gameId === probeGameId);
  // The probe's whole jackpot is reserved: another game raising the probe pool would make a probe
  // look visible before it is.
  const probeJackpotId = probeGame?.jackpotId;
  const trafficGames = config.games
    .filter((g) => g.jackpotId !== probeJackpotId)
    .sort((a, b) => (a.gameId < b.gameId ? -1 : a.gameId > b.gameId ? 1 : 0))
    .slice(0, options.games ?? Infinity);
  if (trafficGames.length === 0) {
    throw new AppError(
      'CONFIG_INVALID',
      `no games to wager on: jackpot.games in ${databaseUrl} has ${config.games.length === 0 ? 'no rows' : "only the probe jackpot's games"}. ` +
        'Configure a jackpot with games first (PUT /v1/admin/jackpots/{jackpotId}, or the demo).',
    );
  }

  // --- the probe, if it can work
  const agent: http.Agent = createAgent(2);
  let probeNote: string | null = null;
  let probeStep = 0n;
  let probeAmountMinor = 1;
  let baseline: bigint | null = null;
  if (probeSettings !== null) {
    const share = probeGame?.pools.find((p) => p.poolId === probePoolId);
    if (probeGame === undefined)
      probeNote = `no game ${probeGameId} is configured, so latency is not measured (create the probe jackpot, or pass --no-probe)`;
    else if (share === undefined)
      probeNote = `game ${probeGameId} does not contribute to pool ${probePoolId}, so latency is not measured`;
    else if (share.contributionPpm === 0)
      probeNote = `pool ${probePoolId} takes 0 ppm of a wager, so a probe would not move it`;
    else {
      probeAmountMinor = probeAmount(share.contributionPpm);
      probeStep = (BigInt(probeAmountMinor) * BigInt(share.contributionPpm)) / 1_000_000n;
      const read = await readPool(agent, projectorUrl, probePoolId);
      if (read.ok) baseline = read.amountMinor;
      else probeNote = `${read.reason}; latency is not measured`;
    }
    if (probeNote !== null) notice(`probe: ${probeNote}`);
  }

  // --- the path into the pipeline
  const brokers = options.kafkaBrokers ?? common.kafkaBrokers;
  const maxInFlight = options.maxInFlight ?? Math.max(1000, Math.ceil(options.rate));
  let sender: Sender;
  let kafkaSender: KafkaSender | null = null;
  const producerCount = options.concurrency ?? 1;
  if (options.via === 'kafka') {
    const kafka = createKafka({
      brokers,
      security: common.kafkaSecurity,
      clientId: 'jackpot-loadgen',
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    sender = kafkaSender = createKafkaSender({
      kafka,
      // Room for every event we allow in flight, plus probes, so `send` never blocks inside the
      // producer: the pacer is the one place that waits.
      maxBufferedMessages: maxInFlight + 100,
      producers: producerCount,
      ...(options.producerMaxBatch === undefined ? {} : { maxBatchMessages: options.producerMaxBatch }),
      ...(options.producerLingerMs === undefined ? {} : { lingerMs: options.producerLingerMs }),
      ...(options.topic === undefined ? {} : { topic: options.topic }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } else {
    sender = createHttpSender({
      baseUrl: ingestUrl,
      apiKey: options.apiKey ?? '',
      batchSize: options.httpBatch ?? 500,
      concurrency: options.concurrency ?? 8,
    });
  }
  try {
    await sender.connect();
  } catch (e) {
    agent.destroy();
    throw new AppError(
      'KAFKA_UNAVAILABLE',
      `cannot connect to Kafka at ${brokers.join(',')}: ${toError(e).message}`,
      {
        cause: e,
        retryable: true,
      },
    );
  }
  try {
    return await drive();
  } finally {
    // Idempotent: after a normal run both are already closed.
    await sender.close().catch(() => undefined);
    agent.destroy();
  }

  async function drive(): Promise<LoadReport> {
    const ledger = createLedger(config);
    const trafficOptions = {
      seed,
      games: trafficGames.map((g: GameConfig) => ({ gameId: g.gameId, currency: g.currency })),
      ...(options.players === undefined ? {} : { players: options.players }),
      dupRate,
      invalidRate,
      eventIds,
    };
    let pre: Pregenerated | null = null;
    if (options.pregenerate !== undefined) {
      const made = performance.now();
      const planned = Math.ceil(options.rate * options.durationSeconds);
      pre = pregenerate({
        traffic: trafficOptions,
        config,
        count: Math.min(planned, options.pregenerate.maxEvents ?? planned),
        // Stamped as if sent at the rate asked from a second after now (the making takes a while).
        startMs: Date.now() + 1000,
        ratePerS: options.rate,
        producers: producerCount,
        shard,
      });
      notice(
        `pre-generated ${pre.count} events (${Math.round(pre.bytes / 2 ** 20)} MB) in ${((performance.now() - made) / 1000).toFixed(1)} s, before the clock started`,
      );
    }
    const traffic = pre === null ? createTraffic(trafficOptions) : null;
    const ackLatency = createHistogram();
    const probeLatency = createHistogram();
    let inFlight = 0;
    let drainWaiter: (() => void) | null = null;

    const dispatch = (event: TrafficEvent): void => {
      ledger.sent(event);
      inFlight++;
      const t0 = performance.now();
      void sender.send(event).then((outcome) => {
        inFlight--;
        if (outcome.ok) {
          ledger.acked(event);
          ackLatency.record(performance.now() - t0);
        } else {
          ledger.failed(event, outcome.code);
        }
        if (inFlight === 0 && drainWaiter !== null) drainWaiter();
      });
    };

    // Pre-generated traffic: the events are numbered; the ledger's work was done beforehand, so an
    // acknowledgement only marks its event (and the probes keep `ledger` to themselves).
    let preNext = 0;
    let preAcked = 0;
    let preErrors = 0;
    const preErrorsByCode: Record<string, number> = {};
    const ackedFlags = new Uint8Array(pre?.count ?? 0);
    const dispatchPre = (p: Pregenerated, ks: KafkaSender, i: number): void => {
      inFlight++;
      const t0 = performance.now();
      void ks.sendEncoded(p.producerOf(i), p.key(i), p.value(i), p.isWager(i)).then((outcome) => {
        inFlight--;
        if (outcome.ok) {
          ackedFlags[i] = 1;
          preAcked++;
          ackLatency.record(performance.now() - t0);
        } else {
          preErrors++;
          preErrorsByCode[outcome.code] = (preErrorsByCode[outcome.code] ?? 0) + 1;
        }
        if (inFlight === 0 && drainWaiter !== null) drainWaiter();
      });
    };

    // --- run
    await options.beforeStart?.();
    const startedAt = new Date();
    const start = performance.now();
    const durationMs = options.durationSeconds * 1000;
    let sendingDone = false;
    const probe =
      probeSettings !== null && baseline !== null
        ? createProbe({
            sender,
            traffic: createProbeTraffic({
              // Not the run's seed: a replay of a seed must still move the probe pool, so probe
              // eventIds are new every run.
              seed: `${seed}/${randomUUID()}`,
              gameId: probeGameId,
              currency: probeGame?.currency ?? 'EUR',
              amountMinor: probeAmountMinor,
              eventIds,
            }),
            ledger,
            histogram: probeLatency,
            agent,
            projectorUrl,
            poolId: probePoolId,
            stepMinor: probeStep,
            intervalMs: probeSettings.intervalMs ?? 100,
            pollMs: probeSettings.pollMs ?? 5,
            timeoutMs: probeSettings.timeoutMs ?? 10_000,
            warmupMs: probeSettings.warmupMs ?? 0,
            maxConsecutiveTimeouts: 3,
            onNotice: (m) => notice(`probe: ${m}`),
          })
        : null;
    const probing = probe?.run(baseline ?? 0n, () => sendingDone) ?? Promise.resolve();

    const progressEvery = options.progressIntervalMs ?? 1000;
    let lastProgressAt = start;
    let lastProgressSent = 0;
    const progress = (now: number): void => {
      const live = ledger.snapshot();
      const snap = {
        sent: live.sent + preNext,
        acked: live.acked + preAcked,
        errors: live.errors + preErrors,
      };
      const seconds = (now - lastProgressAt) / 1000;
      options.onProgress?.({
        elapsedSeconds: (now - start) / 1000,
        sent: snap.sent,
        rate: seconds > 0 ? (snap.sent - lastProgressSent) / seconds : 0,
        acked: snap.acked,
        errors: snap.errors,
        inFlight,
        ackLatencyMs: { p50: ackLatency.quantile(0.5), p99: ackLatency.quantile(0.99) },
        probe:
          probe === null
            ? null
            : {
                count: probeLatency.count,
                p50: probeLatency.quantile(0.5),
                p99: probeLatency.quantile(0.99),
              },
      });
      lastProgressAt = now;
      lastProgressSent = snap.sent;
    };

    const pacer = createPacer({ rate: options.rate, startMs: start });
    let fatal: Error | null = null;
    for (let tick = 1; ; tick++) {
      const now = performance.now();
      if (now - start >= durationMs || options.signal?.aborted === true) break;
      fatal = sender.fatal();
      if (fatal !== null) break;
      const n = pacer.take(now, maxInFlight - inFlight);
      if (pre !== null && kafkaSender !== null) {
        const end = Math.min(pre.count, preNext + n);
        while (preNext < end) dispatchPre(pre, kafkaSender, preNext++);
        if (preNext === pre.count) {
          notice(`the ${pre.count} pre-generated events are all sent; the run stops sending early`);
          break;
        }
      } else if (traffic !== null) {
        const wallNow = Date.now();
        for (let i = 0; i < n; i++) dispatch(traffic.next(wallNow));
      }
      if (now - lastProgressAt >= progressEvery) progress(now);
      // Ticks on a fixed grid, so time spent sending does not stretch the period.
      await sleep(Math.max(0, start + tick * TICK_MS - performance.now()));
    }
    // A whole number of chunks, so that the expectation is a ledger snapshot taken beforehand.
    if (pre !== null && kafkaSender !== null)
      while (preNext % CHUNK !== 0) dispatchPre(pre, kafkaSender, preNext++);
    const sendEnd = performance.now();
    sendingDone = true;

    // --- drain: every event gets its answer, or the drain timeout passes
    await sender.flush();
    const drainTimeoutMs = options.drainTimeoutMs ?? 60_000;
    if (inFlight > 0) {
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => {
          drainWaiter = () => resolve(true);
        }),
        sleep(drainTimeoutMs).then(() => false),
      ]);
      if (!drained)
        notice(
          `${inFlight} events still unacknowledged after waiting ${drainTimeoutMs} ms; they count as unconfirmed`,
        );
    }
    const drainedAt = performance.now();
    await probing;
    progress(performance.now());
    await sender.close();
    agent.destroy();
    if (fatal !== null) throw fatal;

    const snap: LedgerSnapshot =
      pre === null
        ? ledger.snapshot()
        : withErrors(
            mergeSnapshots(
              pre.expectation(preNext, (i) => ackedFlags[i] === 1),
              ledger.snapshot(),
            ),
            preErrors,
            preErrorsByCode,
          );
    const probeStats: ProbeStats | null = probe?.stats() ?? null;
    const sendSeconds = (sendEnd - start) / 1000;
    const elapsedSeconds = (drainedAt - start) / 1000;
    const senderStats = sender.stats();
    const report: LoadReport = {
      via: options.via,
      seed,
      targetRate: options.rate,
      targetDurationSeconds: options.durationSeconds,
      games: trafficGames.length,
      sent: snap.sent,
      distinct: snap.distinct,
      duplicates: snap.duplicates,
      invalid: snap.invalid,
      probes: snap.probes,
      acked: snap.acked,
      errors: snap.errors,
      errorsByCode: snap.errorsByCode,
      unconfirmed: snap.unconfirmed,
      retries: senderStats.retries,
      throttled: senderStats.throttled,
      elapsedSeconds: round(elapsedSeconds, 3),
      sendSeconds: round(sendSeconds, 3),
      achievedRate: round((snap.sent - snap.probes) / sendSeconds),
      ackedRate: round(snap.acked / elapsedSeconds),
      ackLatencyMs: roundPercentiles(ackLatency.percentiles()),
      probe: {
        enabled: probe !== null,
        poolId: probePoolId,
        note:
          probeSettings === null ? 'disabled (--no-probe)' : (probeNote ?? probeStats?.stoppedReason ?? null),
        visible: probeStats?.visible ?? 0,
        warmupVisible: probeStats?.warmupVisible ?? 0,
        warmupMaxMs: round(probeStats?.warmupMaxMs ?? 0, 2),
        timeouts: probeStats?.timeouts ?? 0,
        sendErrors: probeStats?.sendErrors ?? 0,
        latencyMs: probeLatency.count > 0 ? roundPercentiles(probeLatency.percentiles()) : null,
      },
      expected: {
        pools: poolsToJson(snap.pools),
        deadLetters: snap.deadLetters,
        unconfirmedInvalid: snap.unconfirmedInvalid,
      },
    };

    if (options.recordPath !== undefined) {
      await writeRecord(options.recordPath, {
        kind: 'jackpot-loadgen-record',
        version: 1,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        options: {
          via: options.via,
          rate: options.rate,
          durationSeconds: options.durationSeconds,
          games: trafficGames.map((g) => g.gameId),
          players: options.players ?? 100_000,
          dupRate,
          invalidRate,
          seed,
          probe: probeSettings === null ? false : { gameId: probeGameId, poolId: probePoolId },
        },
        config,
        report,
      });
    }
    return report;
  }
}
