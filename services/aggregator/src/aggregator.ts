/**
 * The Kafka edge of the aggregator: a consumer group on the wagers topic whose fetched
 * per-partition batches are gathered into windows (written as soon as a writer is free for them,
 * or at a maximum count: window-queue.ts) and written by `applyWindow` in one Postgres transaction
 * each. Only after the commit are pool updates published, dead letters relayed and (at most every
 * 500 ms, as a hint for lag monitors) offsets committed to Kafka.
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
 *
 * This file wires the consumer group to the pieces: window-queue.ts (windows and their writers),
 * fetch-hold.ts (backpressure), positions-gate.ts (positions checked and sought to),
 * poison-split.ts, housekeeping.ts (outbox relay, daily partitions), offset-commits.ts (Kafka's
 * committed offsets, for lag monitors) and window-metrics.ts.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { Meter } from '@opentelemetry/api';
import { retryDb, withTransaction, type Db } from '../../../shared/src/db.js';
import { parseWager } from '../../../shared/src/messages/wager.js';
import { poolUpdateRecord } from '../../../shared/src/messages/pool-update.js';
import { AppError, toError } from '../../../shared/src/errors.js';
import { trackConsumerLag } from '../../../shared/src/consumer-lag.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { MemoryPressure } from '../../../shared/src/memory-budget.js';
import { DEFAULT_FETCH_MAX_BYTES, type AggregatorConfig, type FaultPoint } from './config.js';
import { applyWindow, type Slice, type WindowOutcome } from './apply-window.js';
import { createFetchHold } from './fetch-hold.js';
import { createOffsetCommits } from './offset-commits.js';
import { createHousekeeping } from './housekeeping.js';
import { applyIsolating, type ApplySlices } from './poison-split.js';
import { createPositionsGate } from './positions-gate.js';
import { createWindowMetrics } from './window-metrics.js';
import { createWindowQueue, type Pending } from './window-queue.js';
import { createWindowTracing } from './window-trace.js';

export interface AggregatorDeps {
  /**
   * What the aggregator asks of kafkajs: one consumer, one idempotent producer, one admin client.
   * The pieces it hands them to take only what they use (`Pick<Consumer, 'pause' | 'resume'>` in
   * fetch-hold.ts, `SendPort` in housekeeping.ts, …).
   */
  readonly kafka: Pick<Kafka, 'consumer' | 'producer' | 'admin'>;
  /**
   * The database as a port (`Db`: check out a client, or run one query), as the shared helpers it
   * is passed to (positions, retention, outbox relays, withTransaction) take it; main.ts passes a
   * `pg.Pool`, and owns its end.
   */
  readonly pool: Db;
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
  /** Leaves the group, lets the windows being written commit, and drops the ones waiting. */
  stop(): Promise<void>;
  /** Null when consuming, else why not. */
  readiness(): string | null;
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
/** Kafka offsets (for lag monitors; Postgres holds the positions) are committed this often at most. */
const OFFSET_COMMIT_INTERVAL_MS = 500;

export function createAggregator(deps: AggregatorDeps): Aggregator {
  const { kafka, pool, config, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const fetchMaxBytes = config.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES;

  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    rebalanceTimeout: Math.max(config.sessionTimeoutMs, 30_000),
    heartbeatInterval: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
    // A batch does not wait for its window's commit (see eachBatch), so kafkajs fetches again at
    // once: the broker answers when 64 KiB (~340 wagers) are there or AGGREGATOR_BATCH_MAX_WAIT_MS
    // has passed, rather than for every few messages (a fetch round trip per millisecond at 5,000
    // wagers/s). That wait is the only one a window has: the queue writes what a fetch brought as
    // soon as a writer is free (window-queue.ts).
    minBytes: 64 * 1024,
    maxWaitTimeInMs: Math.max(5, config.batchMaxWaitMs),
    // 1 MB (~5,800 wagers) a partition (4 MB drained a skewed backlog ~15 % slower: a fetch then
    // came from three or four partitions, whose slices must be written one after another, see
    // window-queue.ts); the whole fetch is bounded by config.fetchMaxBytes (memory, see config.ts).
    maxBytesPerPartition: Math.min(1024 * 1024, fetchMaxBytes),
    maxBytes: fetchMaxBytes,
    allowAutoTopicCreation: false,
    readUncommitted: false,
  });
  const lag = trackConsumerLag(consumer, deps.meter, {
    // A batch is let go before its window commits (eachBatch): afterCommit says what is applied.
    appliedOnCommit: true,
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

  let joined = false;
  let stopping = false;
  let fatal: string | null = null;
  const timers: NodeJS.Timeout[] = [];

  const positions = createPositionsGate({
    pool,
    admin,
    consumer,
    config,
    logger,
    stopping: () => stopping,
    joined: () => joined,
    fetchHeld: () => hold.held() !== null,
  });
  const hold = createFetchHold({
    consumer,
    config,
    logger,
    ...(deps.memory ? { memory: deps.memory } : {}),
    queued: () => queue.queued(),
    positionsRefused: () => positions.alarm() !== null,
    stopping: () => stopping,
  });
  const queue = createWindowQueue({
    maxEvents: () => hold.windowMaxEvents(),
    stopping: () => stopping,
    write: writeWindow,
    onQueueChange: () => hold.update(),
  });
  const metrics = createWindowMetrics(deps.meter, {
    positionsRefused: () => positions.alarm() !== null,
    fetchHeld: () => hold.held() !== null,
  });
  const housekeeping = createHousekeeping({ pool, producer, config, logger, clock });

  async function writeWindow(window: readonly Pending[]): Promise<void> {
    const started = performance.now();
    const slices = window.map((p) => p.slice);
    const events = slices.reduce((n, s) => n + s.messages.length, 0);
    try {
      const outcome = await traces.window(slices, events, () =>
        applyIsolating(slices, applyOnce, { logger, onSplit: () => metrics.splits.add(1) }),
      );
      const seconds = (performance.now() - started) / 1000;
      const rejected = metrics.recordWindow(outcome, events, seconds);
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
  const applyOnce: ApplySlices = (slices, deadLetterAll) => {
    const cluster = positions.clusterId();
    if (cluster === undefined)
      return Promise.reject(
        new AppError('POSITIONS_FOREIGN', 'positions not checked yet; window not applied'),
      );
    return retryDb(
      async () => {
        // Each step's milliseconds, for the debug log: which step a slow window spent its time in
        // (at 5,000/s with two replicas, mostly lock_pools: waiting for the other replica's window).
        const ms: Record<string, number> = {};
        const t0 = performance.now();
        let bodyEnd = t0;
        const outcome = await withTransaction(pool, async (client) => {
          ms['begin'] = Math.round(performance.now() - t0);
          const o = await applyWindow(client, {
            groupId: config.groupId,
            topic: config.topic,
            slices,
            nowMs: clock(),
            clusterId: cluster,
            onPhase: (phase, seconds) => {
              metrics.recordPhase(phase, seconds);
              ms[phase] = Math.round(seconds * 1000);
            },
            ...(deadLetterAll ? { deadLetterAll } : {}),
          });
          fault('after_copy');
          bodyEnd = performance.now();
          return o;
        });
        ms['commit'] = Math.round(performance.now() - bodyEnd);
        logger.debug({ ms: Math.round(performance.now() - t0), phases: ms }, 'window transaction');
        return outcome;
      },
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
  };

  function fault(point: FaultPoint): void {
    const p = config.faultPoints.get(point);
    if (p !== undefined && Math.random() < p) {
      process.stderr.write(`aggregator: fault point ${point}: SIGKILL\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  }

  const kafkaOffsets = createOffsetCommits({
    topic: config.topic,
    intervalMs: OFFSET_COMMIT_INTERVAL_MS,
    commit: (o) => consumer.commitOffsets(o),
    onError: (e) =>
      logger.info({ err: toError(e).message }, 'Kafka offset commit skipped (Postgres holds the position)'),
  });

  /** Best effort: Postgres already holds the truth, these only tell others sooner. */
  async function afterCommit(outcome: WindowOutcome, hasOutbox: boolean): Promise<void> {
    fault('after_commit');
    for (const p of outcome.positions) lag.applied(config.topic, p.partition, BigInt(p.nextOffset));
    kafkaOffsets.add(outcome.positions);
    if (hasOutbox) housekeeping.relaySoon();
    if (outcome.poolUpdates.length > 0)
      await producer
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
        );
  }

  /**
   * kafkajs fetches again only when every batch of its last fetch is handled, so a batch is
   * handed to the window queue and let go: the next fetch fills the next window while this one is
   * written (the queue writes a partition's windows in order, the fetch hold pauses fetching when
   * windows queue up, and nothing below a stored position is applied twice). kafkajs' own offsets
   * are only where it fetches from: the positions that count are the ones the windows store.
   */
  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.isEmpty() || !payload.isRunning() || payload.isStale()) return;
    // kafkajs has no background heartbeat: keep the membership alive while the positions are
    // checked (a Postgres outage can make that last).
    const beat = setInterval(() => {
      payload.heartbeat().catch(() => undefined);
    }, 1000);
    try {
      if (!(await positions.ready())) return;
    } finally {
      clearInterval(beat);
    }
    if (positions.alarm() !== null || !payload.isRunning() || payload.isStale()) return;
    // Parsed now, while earlier windows are in their transactions, rather than inside this one's.
    // A batch larger than a window is cut into window-sized slices, in offset order: a later slice
    // lands in a later window, whose fence waits for the earlier one's position.
    const nowMs = clock();
    const outcomes: Promise<WindowOutcome>[] = [];
    // Where this fetch asked to start: kafkajs sets it on every batch (src/consumer/batch.js) but
    // leaves it out of its types.
    let fetchedFrom = (batch as unknown as { fetchedOffset: string }).fetchedOffset;
    const maxEvents = hold.windowMaxEvents();
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
      outcomes.push(queue.add(slice));
    }
    payload.resolveOffset(batch.lastOffset());
    void settle(batch.partition, batch.firstOffset(), outcomes);
  }

  /**
   * What a batch's windows said, once written. A failed window stored nothing, so the replica
   * goes back to the stored positions (checked anew, which also waits out a Postgres outage); a
   * slice refused for starting past its position seeks back to it; a missing position is created.
   */
  async function settle(
    partition: number,
    firstOffset: string | null,
    outcomes: readonly Promise<WindowOutcome>[],
  ): Promise<void> {
    let results: WindowOutcome[];
    try {
      results = await Promise.all(outcomes);
    } catch {
      if (!stopping) positions.reposition();
      return;
    }
    if (stopping) return;
    if (results.some((o) => o.unpositioned.includes(partition))) {
      logger.warn({ partition }, 'no stored position for an assigned partition; checking positions again');
      positions.reposition();
      return;
    }
    const gap = results.flatMap((o) => o.gaps).find((g) => g.partition === partition);
    // The broker handed us messages past the stored position (a failed window, or a fetch that
    // started elsewhere). Go back to the position, unless the broker no longer has it.
    if (gap !== undefined)
      await positions.seekBack(partition, gap.nextOffset, firstOffset).catch((e: unknown) => {
        logger.warn({ err: toError(e).message, partition }, 'seek back failed; checking positions again');
        positions.reposition();
      });
  }

  return {
    async start() {
      // A replica started while Postgres restarts waits for it (8 attempts, 6-11 s) rather than exit.
      await retryDb(() => housekeeping.ensurePartitions(), {
        onRetry: (e, attempt) =>
          logger.warn({ err: e.message, attempt }, 'database not reachable at start; retrying'),
      });
      await producer.connect();
      await admin.connect();
      await consumer.connect();
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joined = true;
        const assigned = [...(payload.memberAssignment[config.topic] ?? [])];
        positions.assign(assigned);
        kafkaOffsets.assign(assigned);
      });
      // A consumer restarted after a crash starts unpaused: a hold still in force pauses it again.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (hold.held() !== null) consumer.pause([{ topic: config.topic }]);
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
      hold.consuming();
      timers.push(setInterval(() => void housekeeping.relayOutboxes(), OUTBOX_RELAY_INTERVAL_MS));
      timers.push(setInterval(() => void positions.recheck(), POSITIONS_CHECK_INTERVAL_MS));
      timers.push(
        setInterval(() => {
          housekeeping
            .partitions()
            .catch((e: unknown) =>
              logger.error({ err: toError(e).message }, 'partition housekeeping failed; next try in an hour'),
            );
        }, PARTITION_CHECK_INTERVAL_MS),
      );
      for (const t of timers) t.unref();
      void housekeeping.relayOutboxes();
    },

    async stop() {
      stopping = true;
      hold.stop();
      for (const t of timers) clearInterval(t);
      await kafkaOffsets.stop();
      // disconnect() waits for the eachBatch calls in flight, which only queue their slices. The
      // windows being written commit; the ones waiting are dropped, not written: a replica told
      // to stop in a rebalance (its partitions already promised elsewhere) leaves at once, and
      // the next owner reads them again from the stored positions.
      await consumer.disconnect();
      queue.abandon(new Error('the replica is stopping; window not written'));
      await queue.drained();
      await housekeeping.relayed();
      await producer.disconnect();
      await admin.disconnect();
    },

    readiness() {
      if (stopping) return 'stopping';
      if (fatal !== null) return fatal;
      const alarm = positions.alarm();
      if (alarm !== null) return `stored positions refused, nothing is applied: ${alarm}`;
      return joined ? null : 'not yet a member of the consumer group';
    },
  };
}
