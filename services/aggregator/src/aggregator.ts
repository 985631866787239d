/**
 * The Kafka edge of the aggregator: a consumer group on the wagers topic whose fetched
 * per-partition batches are gathered into windows (flushed at a maximum count or a maximum wait,
 * whichever comes first) and written by `applyWindow` in one Postgres transaction each. Only after
 * the commit are the offsets committed to Kafka, pool updates published and dead letters relayed.
 *
 * Postgres holds the authoritative position: on every assignment the replica checks that the
 * stored positions belong to the topic it reads (shared/src/positions.ts), creates the missing
 * ones, and seeks there; the transaction itself drops anything below a position and refuses a
 * slice that starts past it, so a crash, a rebalance or a failed window neither loses nor repeats
 * a wager. Positions that do not belong to the topic stop the replica (not ready, nothing applied)
 * until an operator re-bases them.
 *
 * A window that fails on its data (a poison message) is split until the message is found; that
 * message alone is dead-lettered (`unprocessable`) and the rest applied.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type pg from 'pg';
import type { Meter } from '@opentelemetry/api';
import { retryDb, sleep, withTransaction } from '../../../shared/src/db.js';
import { parseWager } from '../../../shared/src/messages/wager.js';
import { poolUpdateRecord } from '../../../shared/src/messages/pool-update.js';
import { AppError, toError } from '../../../shared/src/errors.js';
import { checkPositions, describeProblems, readTopicSource } from '../../../shared/src/positions.js';
import { trackConsumerLag } from '../../../shared/src/consumer-lag.js';
import { dropExpiredPartitions, ensureDayPartitions } from '../../../shared/src/retention.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { MemoryPressure } from '../../../shared/src/memory-budget.js';
import { createRelay, relayAwards, relayDeadLetters } from '../../../shared/src/outbox.js';
import { LATENCY_BUCKETS_S } from '../../../shared/src/telemetry.js';
import {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_QUEUED_WINDOWS_MAX,
  type AggregatorConfig,
  type FaultPoint,
} from './config.js';
import {
  applyWindow,
  type Slice,
  type WindowInput,
  type WindowOutcome,
  type WindowPhase,
} from './apply-window.js';
import { createWindowTracing } from './window-trace.js';

export interface AggregatorDeps {
  readonly kafka: Kafka;
  readonly pool: pg.Pool;
  readonly config: Pick<
    AggregatorConfig,
    | 'groupId'
    | 'topic'
    | 'poolUpdatesTopic'
    | 'dlqTopic'
    | 'awardsTopic'
    | 'batchMaxEvents'
    | 'batchMaxWaitMs'
    | 'partitionsConsumedConcurrently'
    | 'sessionTimeoutMs'
    | 'faultPoints'
    | 'retentionDays'
  > &
    Partial<Pick<AggregatorConfig, 'queuedWindowsMax' | 'fetchMaxBytes'>>;
  readonly logger: Logger;
  readonly meter: Meter;
  readonly clock?: () => number;
  /** Told when the consumer stopped for good (kafkajs gave up on it); main exits so it is restarted. */
  readonly onFatal?: (e: Error) => void;
  /**
   * The process's memory pressure (shared/src/memory-budget.ts): at `shed` windows close at a
   * quarter of `batchMaxEvents`; at `critical` fetching stops until the level is back under `shed`.
   */
  readonly memory?: MemoryPressure;
}

export interface Aggregator {
  start(): Promise<void>;
  /** Finishes the window in flight, commits it, and leaves the group. */
  stop(): Promise<void>;
  /** Null when consuming, else why not. */
  readiness(): string | null;
}

interface Pending {
  readonly slice: Slice;
  readonly resolve: (o: WindowOutcome) => void;
  readonly reject: (e: Error) => void;
}

/** Leftovers of a replica that died between commit and publish are picked up within this. */
const OUTBOX_RELAY_INTERVAL_MS = 5_000;
const PARTITION_CHECK_INTERVAL_MS = 3_600_000; // hourly: partitions exist 7 days ahead, so a missed run costs nothing
/**
 * Positions are checked on every assignment and this often while running: a topic recreated or
 * a retention that overtook the group is noticed within half a minute even without a rebalance.
 * Each check is two small broker requests and one indexed read.
 */
const POSITIONS_CHECK_INTERVAL_MS = 30_000;
/** While positions are refused (or cannot be checked), they are checked again this often. */
const POSITIONS_RECHECK_MS = 5_000;

/**
 * A window's error that its data caused, so that a smaller window without the culprit succeeds:
 * SQLSTATE class 22 (data exception, such as a bigint out of range, also raised by the binary
 * COPY encoder) or 23 (integrity constraint). Anything else (connection loss, a
 * fence refusal, a bug that fails every window) fails the window as a whole: splitting it would
 * dead-letter good wagers.
 */
function isPoison(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Two halves of a window, in offset order within each partition. */
function halve(slices: readonly Slice[]): [Slice[], Slice[]] {
  if (slices.length > 1) {
    const mid = Math.ceil(slices.length / 2);
    return [slices.slice(0, mid), slices.slice(mid)];
  }
  const [only] = slices as [Slice];
  const mid = Math.ceil(only.messages.length / 2);
  const head = only.messages.slice(0, mid);
  const last = head[head.length - 1];
  return [
    [{ ...only, messages: head }],
    [
      {
        partition: only.partition,
        messages: only.messages.slice(mid),
        ...(last === undefined ? {} : { fetchedFrom: (BigInt(last.offset) + 1n).toString() }),
      },
    ],
  ];
}

function mergeOutcomes(a: WindowOutcome, b: WindowOutcome): WindowOutcome {
  const rejected = new Map(a.rejected);
  for (const [reason, n] of b.rejected) rejected.set(reason, (rejected.get(reason) ?? 0) + n);
  const positions = new Map([...a.positions, ...b.positions].map((p) => [p.partition, p.nextOffset]));
  return {
    applied: a.applied + b.applied,
    duplicates: a.duplicates + b.duplicates,
    alreadyApplied: a.alreadyApplied + b.alreadyApplied,
    rejected,
    ledgerRows: a.ledgerRows + b.ledgerRows,
    mysteryWins: a.mysteryWins + b.mysteryWins,
    poolUpdates: [...a.poolUpdates, ...b.poolUpdates],
    positions: [...positions].map(([partition, nextOffset]) => ({ partition, nextOffset })),
    gaps: [...a.gaps, ...b.gaps],
    unpositioned: [...new Set([...a.unpositioned, ...b.unpositioned])],
  };
}
/**
 * Windows written at once, each in its own transaction on its own connection. Two: while one
 * COPYs its ledger rows and commits, the next one takes its fence, claims its event ids and
 * plans (Postgres and Node each have a core to do it on); they meet at the pool row locks, so
 * pools are still written one window after the other. Two windows in flight never share a
 * partition (see startWrites), so their fences never wait for each other. More than two would
 * only queue at the pool locks.
 */
const WINDOWS_IN_FLIGHT = 2;

export function createAggregator(deps: AggregatorDeps): Aggregator {
  const { kafka, pool, config, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const fetchMaxBytes = config.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const metrics = {
    wagers: deps.meter.createCounter('jackpot.aggregator.wagers', {
      unit: '{wager}',
      description: 'Wagers consumed, by outcome',
    }),
    deadLetters: deps.meter.createCounter('jackpot.aggregator.dead_letters', {
      unit: '{event}',
      description: 'Events dead-lettered, by reason',
    }),
    ledgerRows: deps.meter.createCounter('jackpot.aggregator.ledger_rows', {
      unit: '{row}',
      description: 'Ledger rows written',
    }),
    batchDuration: deps.meter.createHistogram('jackpot.aggregator.batch.duration', {
      unit: 's',
      description: 'Time to write one window, transaction included',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
    batchSize: deps.meter.createHistogram('jackpot.aggregator.batch.size', {
      unit: '{wager}',
      description: 'Wagers per window',
      advice: { explicitBucketBoundaries: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000] },
    }),
    mysteryWins: deps.meter.createCounter('jackpot.aggregator.mystery_wins', {
      unit: '{win}',
      description: 'Mystery triggers hit',
    }),
    retries: deps.meter.createCounter('jackpot.aggregator.batch.retries', {
      unit: '{retry}',
      description: 'Window transactions retried',
    }),
    phaseDuration: deps.meter.createHistogram('jackpot.aggregator.batch.phase.duration', {
      unit: 's',
      description: 'Time of each step of a window transaction (see WindowPhase); lock waits included',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
    windowFailures: deps.meter.createCounter('jackpot.aggregator.batch.failures', {
      unit: '{window}',
      description: 'Windows that failed and were handed back to Kafka',
    }),
    splits: deps.meter.createCounter('jackpot.aggregator.batch.splits', {
      unit: '{split}',
      description: 'Windows split to isolate a message that fails them',
    }),
    positionAlarm: deps.meter.createObservableGauge('jackpot.aggregator.positions.alarm', {
      unit: '1',
      description: '1 while the stored positions do not belong to the topic (nothing is applied), else 0',
    }),
  };
  metrics.positionAlarm.addCallback((r) => r.observe(alarm === null ? 0 : 1));
  const fetchHeld = deps.meter.createObservableGauge('jackpot.aggregator.fetch.held', {
    unit: '1',
    description: '1 while fetching is paused for memory (critical pressure) or a full window queue, else 0',
  });
  fetchHeld.addCallback((r) => r.observe(held === null ? 0 : 1));
  const recordPhase = (phase: WindowPhase, seconds: number): void =>
    metrics.phaseDuration.record(seconds, { phase });

  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    rebalanceTimeout: Math.max(config.sessionTimeoutMs, 30_000),
    heartbeatInterval: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
    maxWaitTimeInMs: 100,
    // 1 MB (~5,800 wagers) a partition (4 MB drained a skewed backlog ~15 % slower: a fetch then
    // came from three or four partitions, whose slices must be written one after another, see
    // startWrites); the whole fetch is bounded by config.fetchMaxBytes (memory, see config.ts).
    maxBytesPerPartition: Math.min(1024 * 1024, fetchMaxBytes),
    maxBytes: fetchMaxBytes,
    allowAutoTopicCreation: false,
    readUncommitted: false,
  });
  trackConsumerLag(consumer, deps.meter, {
    name: 'jackpot.aggregator.consumer.lag',
    description:
      'Messages not yet applied, per partition this replica owns (high watermark of the last fetch − next offset to apply)',
  });
  const traces = createWindowTracing({ topic: config.topic, groupId: config.groupId });
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  const admin = kafka.admin();

  let pending: Pending[] = [];
  let pendingEvents = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Closed windows waiting for one of the WINDOWS_IN_FLIGHT slots, oldest first. */
  const queued: Pending[][] = [];
  let writing = 0;
  /** Partitions of the windows being written, with how many slices of each. */
  const partitionsWriting = new Map<number, number>();
  let drainedWaiters: (() => void)[] = [];
  let joined = false;
  let stopping = false;
  let fatal: string | null = null;
  const timers: NodeJS.Timeout[] = [];

  /** The partitions of the current assignment. */
  let assigned: number[] = [];
  /** The cluster the positions were last checked against; windows are written only for it. */
  let clusterId: string | undefined;
  /** Why the stored positions are refused, or null. */
  let alarm: string | null = null;
  /**
   * Resolves once the current assignment's positions are checked and sought to (true), or false
   * when the assignment was superseded. eachBatch waits on it: nothing is applied before.
   */
  let gate: Promise<boolean> = Promise.resolve(false);
  let assignment = 0;

  /**
   * Why fetching is paused for backpressure, or null: memory at `critical` (held until the level is
   * back under `shed`), or more than `config.queuedWindowsMax` closed windows waiting. Independent of the
   * positions alarm, which pauses the topic on its own: the topic is resumed only when neither holds.
   */
  let held: string | null = null;
  let memoryHeld = deps.memory?.level() === 'critical';
  let consuming = false;
  const memory = deps.memory;
  const stopListening = memory?.onChange((level, previous) => {
    if (level === 'critical') memoryHeld = true;
    else if (level === 'ok' || level === 'warn') memoryHeld = false;
    if (level === 'shed' && previous !== 'critical')
      logger.warn({ level, windowMaxEvents: windowMaxEvents() }, 'memory pressure: windows shrink');
    updateHold();
  });

  /** A window's size now: a quarter of batchMaxEvents under memory pressure, so less is held at once. */
  function windowMaxEvents(): number {
    const level = memory?.level() ?? 'ok';
    return level === 'shed' || level === 'critical'
      ? Math.max(1, Math.floor(config.batchMaxEvents / 4))
      : config.batchMaxEvents;
  }

  function holdReason(): string | null {
    if (memoryHeld) return 'memory pressure critical';
    // Once held for the queue, held until the queue is down to half the bound, not one below it.
    const max = config.queuedWindowsMax ?? DEFAULT_QUEUED_WINDOWS_MAX;
    const bound = held === 'window queue full' ? Math.floor(max / 2) : max;
    return queued.length > bound ? 'window queue full' : null;
  }

  function updateHold(): void {
    if (!consuming || stopping) return;
    const reason = holdReason();
    if (reason === held) return;
    if (held === null) {
      logger.warn({ reason, queued: queued.length }, 'fetching paused');
      consumer.pause([{ topic: config.topic }]);
    } else if (reason === null) {
      logger.info({ queued: queued.length, positionsAlarm: alarm !== null }, 'fetching resumed');
      // The positions alarm keeps its own pause: position() resumes when it clears.
      if (alarm === null) consumer.resume([{ topic: config.topic }]);
    }
    held = reason;
  }

  function schedule(): void {
    if (pending.length === 0) return;
    if (pendingEvents >= windowMaxEvents() || stopping) {
      flushNow();
    } else if (timer === undefined) {
      timer = setTimeout(flushNow, config.batchMaxWaitMs);
    }
  }

  function flushNow(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    queued.push(pending);
    pending = [];
    pendingEvents = 0;
    startWrites();
    updateHold();
  }

  function startWrites(): void {
    while (writing < WINDOWS_IN_FLIGHT && queued.length > 0) {
      const window = queued[0] as Pending[];
      // A partition in a window being written keeps the next window with that partition (a later
      // slice of a batch cut in two) waiting: its fence must see the earlier slice's position. A
      // position never written yet (-1) accepts any first offset, so a race there would skip the
      // earlier slice. Windows start in order, so the head waits and the rest wait behind it.
      if (window.some((p) => partitionsWriting.has(p.slice.partition))) return;
      queued.shift();
      updateHold();
      writing++;
      for (const p of window)
        partitionsWriting.set(p.slice.partition, (partitionsWriting.get(p.slice.partition) ?? 0) + 1);
      void writeWindow(window).finally(() => {
        writing--;
        for (const p of window) {
          const n = (partitionsWriting.get(p.slice.partition) ?? 1) - 1;
          if (n === 0) partitionsWriting.delete(p.slice.partition);
          else partitionsWriting.set(p.slice.partition, n);
        }
        startWrites();
        if (writing === 0 && queued.length === 0) {
          const waiters = drainedWaiters;
          drainedWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  /** Resolves when no window is queued or being written. */
  function drained(): Promise<void> {
    if (writing === 0 && queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => drainedWaiters.push(resolve));
  }

  async function writeWindow(window: Pending[]): Promise<void> {
    const started = performance.now();
    const slices = window.map((p) => p.slice);
    const events = slices.reduce((n, s) => n + s.messages.length, 0);
    try {
      const outcome = await traces.window(slices, events, () => applyIsolating(slices));
      const seconds = (performance.now() - started) / 1000;
      metrics.batchDuration.record(seconds);
      metrics.batchSize.record(events);
      metrics.wagers.add(outcome.applied, { outcome: 'applied' });
      metrics.wagers.add(outcome.duplicates, { outcome: 'duplicate' });
      metrics.wagers.add(outcome.alreadyApplied, { outcome: 'already_applied' });
      metrics.ledgerRows.add(outcome.ledgerRows);
      metrics.mysteryWins.add(outcome.mysteryWins);
      let rejected = 0;
      for (const [reason, n] of outcome.rejected) {
        metrics.deadLetters.add(n, { reason });
        metrics.wagers.add(n, { outcome: 'dead_lettered' });
        rejected += n;
      }
      logger.debug(
        {
          events,
          applied: outcome.applied,
          duplicates: outcome.duplicates,
          rejected,
          rows: outcome.ledgerRows,
          ms: Math.round(seconds * 1000),
        },
        'window committed',
      );
      for (const p of window) p.resolve(outcome);
      await afterCommit(outcome, rejected > 0 || outcome.mysteryWins > 0);
    } catch (e) {
      const err = toError(e);
      metrics.windowFailures.add(1);
      logger.error({ err, events }, 'window failed; its partitions will be redelivered');
      for (const p of window) p.reject(err);
    }
  }

  /** One transaction, retried on connection loss, deadlocks and the like. */
  function applyOnce(
    slices: readonly Slice[],
    deadLetterAll?: WindowInput['deadLetterAll'],
  ): Promise<WindowOutcome> {
    const cluster = clusterId;
    if (cluster === undefined)
      return Promise.reject(
        new AppError('POSITIONS_FOREIGN', 'positions not checked yet; window not applied'),
      );
    return retryDb(
      () =>
        withTransaction(pool, async (client) => {
          const outcome = await applyWindow(client, {
            groupId: config.groupId,
            topic: config.topic,
            slices,
            nowMs: clock(),
            clusterId: cluster,
            onPhase: recordPhase,
            ...(deadLetterAll ? { deadLetterAll } : {}),
          });
          fault('after_copy');
          return outcome;
        }),
      {
        onRetry: (e, attempt, delayMs) => {
          metrics.retries.add(1);
          logger.warn(
            { err: e.message, attempt, delayMs: Math.round(delayMs) },
            'window transaction failed; retrying',
          );
        },
      },
    );
  }

  /**
   * A window whose data makes it fail (isPoison) is split in two, each half written on its own,
   * down to the single message that fails alone: that one is dead-lettered as `unprocessable`
   * with the error, and everything else is applied. Halves keep offset order, so the fence sees
   * each partition's messages in sequence.
   */
  async function applyIsolating(slices: readonly Slice[]): Promise<WindowOutcome> {
    try {
      return await applyOnce(slices);
    } catch (e) {
      if (!isPoison(e)) throw e;
      const events = slices.reduce((n, s) => n + s.messages.length, 0);
      if (events === 1) {
        const only = slices[0];
        const err = toError(e);
        logger.error(
          { err, partition: only?.partition, offset: only?.messages[0]?.offset },
          'a message fails every window it is in; dead-lettered as unprocessable',
        );
        return applyOnce(slices, { reason: 'unprocessable', message: `${err.message}`.slice(0, 500) });
      }
      metrics.splits.add(1);
      logger.warn(
        { err: toError(e).message, events },
        'window failed on its data; splitting it to find the message',
      );
      const [a, b] = halve(slices);
      const first = await applyIsolating(a);
      return mergeOutcomes(first, await applyIsolating(b));
    }
  }

  function fault(point: FaultPoint): void {
    const p = config.faultPoints.get(point);
    if (p !== undefined && Math.random() < p) {
      process.stderr.write(`aggregator: fault point ${point}: SIGKILL\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  }

  /** Best effort: Postgres already holds the truth, these only tell others sooner. */
  async function afterCommit(outcome: WindowOutcome, hasOutbox: boolean): Promise<void> {
    fault('after_commit');
    const tasks: Promise<unknown>[] = [];
    if (outcome.positions.length > 0) {
      tasks.push(
        consumer
          .commitOffsets(
            outcome.positions.map((p) => ({
              topic: config.topic,
              partition: p.partition,
              offset: p.nextOffset,
            })),
          )
          .catch((e: unknown) =>
            logger.info(
              { err: toError(e).message },
              'Kafka offset commit skipped (Postgres holds the position)',
            ),
          ),
      );
    }
    if (outcome.poolUpdates.length > 0) {
      tasks.push(
        producer
          .send({
            topic: config.poolUpdatesTopic,
            acks: -1,
            messages: outcome.poolUpdates.map(poolUpdateRecord),
          })
          .catch((e: unknown) =>
            logger.warn(
              { err: toError(e).message },
              'pool updates not published; projectors resync from Postgres',
            ),
          ),
      );
    }
    if (hasOutbox) tasks.push(relayOutboxes());
    await Promise.all(tasks);
  }

  /**
   * The outboxes: dead letters and mystery wins written by windows, published here. One relay at
   * a time (a request during a run gets one more run after it); `relaying` is the latest request.
   */
  const outboxRelay = createRelay({
    run: async () => {
      await relayDeadLetters(pool, producer, config.dlqTopic);
      await relayAwards(pool, producer, config.awardsTopic);
    },
    onError: (err) => logger.warn({ err: err.message }, 'outbox relay failed; will retry'),
  });
  let relaying: Promise<void> | undefined;
  function relayOutboxes(): Promise<void> {
    relaying = outboxRelay.request();
    return relaying;
  }

  async function ensurePartitions(): Promise<void> {
    const skipped = await ensureDayPartitions(pool, clock());
    if (skipped.length > 0)
      logger.warn({ skipped }, 'partitions not created: their table stayed locked for 5 s; next run retries');
  }

  /** Hourly with the partitions: days past their retention go (one replica at a time). */
  async function housekeeping(): Promise<void> {
    await ensurePartitions();
    const dropped = await dropExpiredPartitions(pool, config.retentionDays);
    if (dropped.length > 0) logger.info({ dropped }, 'partitions past their retention dropped');
  }

  /**
   * Checks the stored positions against the topic (creating missing ones at the partitions'
   * start) and seeks every assigned partition there. Until they pass, nothing is applied: the
   * topic is paused, readiness names the problem, and the check repeats every few seconds, so
   * that a re-base by the operator (`npm run jackpot -- positions rebase`) lets the replica go on.
   */
  async function position(partitions: readonly number[], mine: number): Promise<boolean> {
    for (;;) {
      if (stopping || mine !== assignment) return false;
      try {
        const check = await checkPositions(pool, admin, { groupId: config.groupId, topic: config.topic });
        if (mine !== assignment) return false;
        if (check.problems.length > 0) {
          raiseAlarm(describeProblems(check.problems));
        } else {
          clusterId = check.clusterId;
          for (const p of partitions) {
            const next = check.positions.get(p);
            if (next !== undefined)
              consumer.seek({ topic: config.topic, partition: p, offset: next.toString() });
          }
          if (alarm !== null) {
            logger.info(
              { topic: config.topic, groupId: config.groupId },
              'stored positions belong to the topic again; resuming',
            );
            alarm = null;
            // Not while fetching is held for backpressure: updateHold resumes when that ends.
            if (held === null) consumer.resume([{ topic: config.topic }]);
          }
          logger.info({ partitions, clusterId }, 'assigned partitions; positions checked and sought to');
          return true;
        }
      } catch (e) {
        logger.warn({ err: toError(e).message }, 'could not check the stored positions; retrying');
      }
      await sleep(POSITIONS_RECHECK_MS);
    }
  }

  function raiseAlarm(reason: string): void {
    if (alarm === null) {
      logger.error(
        { topic: config.topic, groupId: config.groupId, problem: reason },
        `stored positions refused, nothing is applied: ${reason}. If the topic was replaced on purpose, re-base the group: npm run jackpot -- positions rebase --group ${config.groupId} --topic ${config.topic} --to earliest|latest`,
      );
      consumer.pause([{ topic: config.topic }]);
    }
    alarm = reason;
  }

  function reposition(): void {
    const mine = ++assignment;
    const partitions = assigned;
    gate = position(partitions, mine);
  }

  /** The periodic check: raises the alarm when the positions stopped belonging to the topic. */
  async function recheck(): Promise<void> {
    if (stopping || !joined || alarm !== null) return;
    try {
      const check = await checkPositions(pool, admin, { groupId: config.groupId, topic: config.topic });
      if (check.problems.length > 0) {
        raiseAlarm(describeProblems(check.problems));
        reposition();
      }
    } catch (e) {
      logger.warn({ err: toError(e).message }, 'periodic positions check failed');
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.isEmpty() || !payload.isRunning() || payload.isStale()) return;
    // kafkajs has no background heartbeat: keep the membership alive while the positions are
    // checked and the window fills and writes.
    const beat = setInterval(() => {
      payload.heartbeat().catch(() => undefined);
    }, 1000);
    try {
      if (!(await gate) || alarm !== null || !payload.isRunning() || payload.isStale()) return;
      // Parsed now, while earlier windows are in their transactions, rather than inside this one's.
      // A batch larger than a window is cut into window-sized slices, in offset order: a later slice
      // lands in a later window, whose fence waits for the earlier one's position.
      const nowMs = clock();
      const outcomes: Promise<WindowOutcome>[] = [];
      // Where this fetch asked to start: kafkajs sets it on every batch (src/consumer/batch.js) but
      // leaves it out of its types.
      let fetchedFrom = (batch as unknown as { fetchedOffset: string }).fetchedOffset;
      const maxEvents = windowMaxEvents();
      for (let i = 0; i < batch.messages.length; i += maxEvents) {
        const messages = batch.messages.slice(i, i + maxEvents);
        const slice: Slice = {
          partition: batch.partition,
          fetchedFrom,
          messages: messages.map((m) => ({
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            parsed: parseWager(m.value ?? null, nowMs),
          })),
        };
        traces.note(slice, batch.partition, messages);
        fetchedFrom = (BigInt(messages[messages.length - 1]?.offset ?? fetchedFrom) + 1n).toString();
        outcomes.push(
          new Promise<WindowOutcome>((resolve, reject) => pending.push({ slice, resolve, reject })),
        );
        pendingEvents += slice.messages.length;
        schedule();
      }
      const results = await Promise.all(outcomes);
      if (results.some((o) => o.unpositioned.includes(batch.partition))) {
        logger.warn(
          { partition: batch.partition },
          'no stored position for an assigned partition; checking positions again',
        );
        reposition();
        return;
      }
      const gap = results.flatMap((o) => o.gaps).find((g) => g.partition === batch.partition);
      if (gap !== undefined) {
        // The broker handed us messages past the stored position (a failed window, or a fetch
        // that started elsewhere). Go back to the position, unless the broker no longer has it.
        const range = (await readTopicSource(admin, config.topic)).ranges.find(
          (r) => r.partition === batch.partition,
        );
        if (range !== undefined && BigInt(gap.nextOffset) < range.low) {
          raiseAlarm(
            `partition ${batch.partition}: stored position ${gap.nextOffset} is below the partition's first offset ${range.low} (messages were deleted before they were applied)`,
          );
          reposition();
          return;
        }
        logger.warn(
          { partition: batch.partition, stored: gap.nextOffset, fetched: batch.firstOffset() },
          'position gap; seeking back to the stored offset',
        );
        consumer.seek({ topic: config.topic, partition: batch.partition, offset: gap.nextOffset });
        return;
      }
      payload.resolveOffset(batch.lastOffset());
    } finally {
      clearInterval(beat);
    }
  }

  return {
    async start() {
      // A replica started while Postgres restarts waits for it (8 attempts, 6-11 s) rather than exit.
      await retryDb(ensurePartitions, {
        onRetry: (e, attempt) =>
          logger.warn({ err: e.message, attempt }, 'database not reachable at start; retrying'),
      });
      await producer.connect();
      await admin.connect();
      await consumer.connect();
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joined = true;
        assigned = [...(payload.memberAssignment[config.topic] ?? [])];
        reposition();
      });
      // A consumer restarted after a crash starts unpaused: a hold still in force pauses it again.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (held !== null) consumer.pause([{ topic: config.topic }]);
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        joined = false;
        logger.error({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
        if (!payload.restart && !stopping) {
          fatal = `the Kafka consumer stopped: ${payload.error.message}`;
          deps.onFatal?.(payload.error);
        }
      });
      await consumer.subscribe({ topic: config.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
        eachBatch,
      });
      consuming = true;
      updateHold();
      timers.push(setInterval(() => void relayOutboxes(), OUTBOX_RELAY_INTERVAL_MS));
      timers.push(setInterval(() => void recheck(), POSITIONS_CHECK_INTERVAL_MS));
      timers.push(
        setInterval(() => {
          housekeeping().catch((e: unknown) =>
            logger.error({ err: toError(e).message }, 'partition housekeeping failed; next try in an hour'),
          );
        }, PARTITION_CHECK_INTERVAL_MS),
      );
      for (const t of timers) t.unref();
      void relayOutboxes();
    },

    async stop() {
      stopping = true;
      stopListening?.();
      for (const t of timers) clearInterval(t);
      flushNow();
      // disconnect() waits for the eachBatch calls in flight, which wait for their window's commit.
      await consumer.disconnect();
      flushNow();
      await drained();
      await relaying;
      await producer.disconnect();
      await admin.disconnect();
    },

    readiness() {
      if (stopping) return 'stopping';
      if (fatal !== null) return fatal;
      if (alarm !== null) return `stored positions refused, nothing is applied: ${alarm}`;
      return joined ? null : 'not yet a member of the consumer group';
    },
  };
}
