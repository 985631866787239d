/**
 * The Kafka edge of the aggregator: a consumer group on the wagers topic whose fetched
 * per-partition batches are gathered into windows (flushed at a maximum count or a maximum wait,
 * whichever comes first) and written by `applyWindow` in one Postgres transaction each. Only after
 * the commit are the offsets committed to Kafka, pool updates published and dead letters relayed.
 *
 * Postgres holds the authoritative position: on every assignment the consumer seeks there, and
 * the transaction itself drops anything at or below it, so a crash or a rebalance between the
 * database commit and the Kafka commit neither loses nor repeats a wager.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type pg from 'pg';
import type { Meter } from '@opentelemetry/api';
import { retryDb, withClient, withTransaction } from '../../../shared/src/db.js';
import { ledgerPartitionsAhead, parseWager } from '../../../shared/src/domain/index.js';
import { toError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logger.js';
import { relayAwards, relayDeadLetters } from '../../../shared/src/outbox.js';
import { LATENCY_BUCKETS_S } from '../../../shared/src/telemetry.js';
import type { AggregatorConfig } from './config.js';
import { applyWindow, type Slice, type WindowOutcome, type WindowPhase } from './sink.js';
import * as sql from './sql.js';

export interface AggregatorDeps {
  readonly kafka: Kafka;
  readonly pool: pg.Pool;
  readonly config: Pick<
    AggregatorConfig,
    'groupId' | 'topic' | 'poolUpdatesTopic' | 'dlqTopic' | 'awardsTopic' | 'batchMaxEvents' | 'batchMaxWaitMs' | 'partitionsConsumedConcurrently' | 'sessionTimeoutMs'
  >;
  readonly logger: Logger;
  readonly meter: Meter;
  readonly clock?: () => number;
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
  const metrics = {
    wagers: deps.meter.createCounter('jackpot.aggregator.wagers', { unit: '{wager}', description: 'Wagers consumed, by outcome' }),
    deadLetters: deps.meter.createCounter('jackpot.aggregator.dead_letters', { unit: '{event}', description: 'Events dead-lettered, by reason' }),
    ledgerRows: deps.meter.createCounter('jackpot.aggregator.ledger_rows', { unit: '{row}', description: 'Ledger rows written' }),
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
    mysteryWins: deps.meter.createCounter('jackpot.aggregator.mystery_wins', { unit: '{win}', description: 'Mystery triggers hit' }),
    retries: deps.meter.createCounter('jackpot.aggregator.batch.retries', { unit: '{retry}', description: 'Window transactions retried' }),
    phaseDuration: deps.meter.createHistogram('jackpot.aggregator.batch.phase.duration', {
      unit: 's',
      description: 'Time of each step of a window transaction (see WindowPhase); lock waits included',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
  };
  const recordPhase = (phase: WindowPhase, seconds: number): void => metrics.phaseDuration.record(seconds, { phase });

  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    rebalanceTimeout: Math.max(config.sessionTimeoutMs, 30_000),
    heartbeatInterval: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
    maxWaitTimeInMs: 100,
    // kafkajs' defaults, measured: 1 MB (~5,800 wagers) a partition and 10 MB in all per fetch.
    // 4 MB a partition drained a skewed backlog ~15 % slower: a fetch then came from three or four
    // partitions, whose slices must be written one after another (see startWrites).
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    allowAutoTopicCreation: false,
    readUncommitted: false,
  });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });

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
  const acceptGapsAt = new Set<string>();
  const timers: NodeJS.Timeout[] = [];

  function schedule(): void {
    if (pending.length === 0) return;
    if (pendingEvents >= config.batchMaxEvents || stopping) {
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
      writing++;
      for (const p of window) partitionsWriting.set(p.slice.partition, (partitionsWriting.get(p.slice.partition) ?? 0) + 1);
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
      const outcome = await retryDb(
        () => withTransaction(pool, (client) => applyWindow(client, { groupId: config.groupId, topic: config.topic, slices, nowMs: clock(), acceptGapsAt, onPhase: recordPhase })),
        {
          onRetry: (e, attempt, delayMs) => {
            metrics.retries.add(1);
            logger.warn({ err: e.message, attempt, delayMs: Math.round(delayMs) }, 'window transaction failed; retrying');
          },
        },
      );
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
        { events, applied: outcome.applied, duplicates: outcome.duplicates, rejected, rows: outcome.ledgerRows, ms: Math.round(seconds * 1000) },
        'window committed',
      );
      for (const p of window) p.resolve(outcome);
      await afterCommit(outcome, rejected > 0 || outcome.mysteryWins > 0);
    } catch (e) {
      const err = toError(e);
      logger.error({ err, events }, 'window failed; its partitions will be redelivered');
      for (const p of window) p.reject(err);
    }
  }

  /** Best effort: Postgres already holds the truth, these only tell others sooner. */
  async function afterCommit(outcome: WindowOutcome, hasOutbox: boolean): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    if (outcome.positions.length > 0) {
      tasks.push(
        consumer
          .commitOffsets(outcome.positions.map((p) => ({ topic: config.topic, partition: p.partition, offset: p.nextOffset })))
          .catch((e: unknown) => logger.info({ err: toError(e).message }, 'Kafka offset commit skipped (Postgres holds the position)')),
      );
    }
    if (outcome.poolUpdates.length > 0) {
      tasks.push(
        producer
          .send({
            topic: config.poolUpdatesTopic,
            acks: -1,
            messages: outcome.poolUpdates.map((u) => ({ key: u.poolId, value: JSON.stringify(u) })),
          })
          .catch((e: unknown) => logger.warn({ err: toError(e).message }, 'pool updates not published; projectors resync from Postgres')),
      );
    }
    if (hasOutbox) tasks.push(relayOutboxes());
    await Promise.all(tasks);
  }

  /** The outboxes: dead letters and mystery wins written by windows, published here. */
  let relaying: Promise<void> | undefined;
  function relayOutboxes(): Promise<void> {
    relaying ??= (async () => {
      try {
        await relayDeadLetters(pool, producer, config.dlqTopic);
        await relayAwards(pool, producer, config.awardsTopic);
      } catch (e) {
        logger.warn({ err: toError(e).message }, 'outbox relay failed; will retry');
      } finally {
        relaying = undefined;
      }
    })();
    return relaying;
  }

  async function ensureLedgerPartitions(): Promise<void> {
    for (const p of ledgerPartitionsAhead(clock(), 1, 7)) {
      try {
        await withClient(pool, (c) => c.query(sql.createLedgerPartition(p.name, p.fromTimestamp, p.toTimestamp)));
      } catch (e) {
        // Two replicas creating the same partition at once: the loser sees 42P07 or 23505.
        const code = (e as { code?: string }).code;
        if (code !== '42P07' && code !== '23505') throw e;
      }
    }
  }

  async function seekToStoredPositions(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return;
    const rows = await withClient(pool, (c) => c.query<{ partition: number; next_offset: string }>(sql.readOffsets(config.groupId, config.topic, partitions)));
    for (const r of rows.rows) consumer.seek({ topic: config.topic, partition: r.partition, offset: r.next_offset });
    logger.info({ partitions, seeks: rows.rows.length }, 'assigned partitions; positioned from Postgres');
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.isEmpty() || !payload.isRunning() || payload.isStale()) return;
    // Parsed now, while earlier windows are in their transactions, rather than inside this one's.
    // A batch larger than a window is cut into window-sized slices, in offset order: a later slice
    // lands in a later window, whose fence waits for the earlier one's position.
    const nowMs = clock();
    const outcomes: Promise<WindowOutcome>[] = [];
    for (let i = 0; i < batch.messages.length; i += config.batchMaxEvents) {
      const slice: Slice = {
        partition: batch.partition,
        messages: batch.messages
          .slice(i, i + config.batchMaxEvents)
          .map((m) => ({ offset: m.offset, key: m.key ?? null, value: m.value ?? null, parsed: parseWager(m.value ?? null, nowMs) })),
      };
      outcomes.push(new Promise<WindowOutcome>((resolve, reject) => pending.push({ slice, resolve, reject })));
      pendingEvents += slice.messages.length;
      schedule();
    }
    // kafkajs has no background heartbeat: keep the membership alive while the window fills and writes.
    const beat = setInterval(() => {
      payload.heartbeat().catch(() => undefined);
    }, 1000);
    try {
      const gap = (await Promise.all(outcomes)).flatMap((o) => o.gaps).find((g) => g.partition === batch.partition);
      if (gap !== undefined) {
        // Kafka handed us a later position than Postgres holds. Go back once; if the broker still
        // starts later, those offsets no longer exist (retention) and the next window accepts that.
        logger.warn({ partition: batch.partition, stored: gap.nextOffset, fetched: batch.firstOffset() }, 'position gap; seeking back to the stored offset');
        acceptGapsAt.add(`${batch.partition}@${gap.nextOffset}`);
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
      await ensureLedgerPartitions();
      await producer.connect();
      await consumer.connect();
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joined = true;
        const partitions = payload.memberAssignment[config.topic] ?? [];
        seekToStoredPositions([...partitions]).catch((e: unknown) =>
          logger.warn({ err: toError(e).message }, 'could not read stored positions; the transaction fence still applies'),
        );
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        joined = false;
        logger.error({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
      });
      await consumer.subscribe({ topic: config.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
        eachBatch,
      });
      timers.push(setInterval(() => void relayOutboxes(), OUTBOX_RELAY_INTERVAL_MS));
      timers.push(
        setInterval(() => {
          ensureLedgerPartitions().catch((e: unknown) => logger.error({ err: toError(e).message }, 'could not create ledger partitions'));
        }, PARTITION_CHECK_INTERVAL_MS),
      );
      for (const t of timers) t.unref();
      void relayOutboxes();
    },

    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      flushNow();
      // disconnect() waits for the eachBatch calls in flight, which wait for their window's commit.
      await consumer.disconnect();
      flushNow();
      await drained();
      await relaying;
      await producer.disconnect();
    },

    readiness() {
      if (stopping) return 'stopping';
      return joined ? null : 'not yet a member of the consumer group';
    },
  };
}
