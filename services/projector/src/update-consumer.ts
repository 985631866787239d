/**
 * The topic side: every message of `jackpot.pool-updates.v1`, on every replica.
 *
 * Each instance reads with a consumer group of its own, so every replica gets every partition,
 * and it never commits an offset: a restarted instance starts from the topic's end and gets the
 * state before it from Postgres. To leave no gap between the two, the end offsets are read
 * before the initial load from Postgres and the consumer starts exactly there: whatever an
 * aggregator commits after the load's snapshot is published after those offsets.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import type { Consumer, Kafka } from 'kafkajs';
import { trackConsumerLag } from '../../../shared/src/consumer-lag.js';
import type { Logger } from '../../../shared/src/logger.js';

export interface UpdateConsumerOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly logger: Logger;
  /** Called for each message in partition order; must not throw. */
  readonly onMessage: (value: Buffer | null, partition: number) => void;
  /**
   * Called when the consumer joined its group again after a failure: it then starts from the
   * latest offsets, so the caller re-reads Postgres to cover what was published meanwhile.
   */
  readonly onRejoin: () => void;
}

export interface UpdateConsumer {
  /** Resolves once the consumer is in its group and positioned at the offsets read first. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Null when consuming, or why not. */
  notRunningReason(): string | null;
}

/** `projector-<host>-<pid>-<random>`: unique per process, and readable in the broker's group list. */
export function uniqueGroupId(): string {
  return `projector-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A consumer kafkajs gave up on is replaced after 1, 2, 4 … s, at most this long apart. */
const RESTART_MAX_DELAY_MS = 30_000;

export function createUpdateConsumer(opts: UpdateConsumerOptions): UpdateConsumer {
  const log = opts.logger.child({ component: 'update-consumer', topic: opts.topic, groupId: opts.groupId });
  let consumer: Consumer | null = null;
  let joins = 0;
  let reason: string | null = 'not started';
  let stopped = false;
  /** A replacement is under way: a crash of the consumer it is trying does not start another. */
  let replacing = false;
  /** Stops the lag series of the consumer before: a replaced one must not report beside it. */
  let untrackLag: (() => void) | null = null;

  /**
   * kafkajs restarts a consumer after a retriable failure, but gives up on one that ran out of
   * retries (a broker down longer than about 30 s: "Failed to find group coordinator"). The
   * projector would then stay not ready for good; instead a new consumer joins, and its join
   * re-reads Postgres like any rejoin.
   */
  async function replace(crashed: Consumer): Promise<void> {
    replacing = true;
    await crashed.disconnect().catch(() => undefined);
    try {
      for (let attempt = 0; !stopped; attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(RESTART_MAX_DELAY_MS, 1000 * 2 ** attempt)));
        if (stopped) return;
        try {
          await start();
          log.warn({ attempt: attempt + 1 }, 'update consumer replaced after it stopped for good');
          return;
        } catch (e) {
          reason = `consumer stopped for good, replacing it failed: ${(e as Error).message}`;
          log.warn(
            { err: (e as Error).message, attempt: attempt + 1 },
            'replacing the update consumer failed; retrying',
          );
          // What the failed start made, if it got that far.
          if (consumer !== crashed) await consumer?.disconnect().catch(() => undefined);
        }
      }
    } finally {
      replacing = false;
    }
  }

  async function start(): Promise<void> {
    const admin = opts.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; high: string }>;
    try {
      // A topic whose leaders just moved (or were just elected) answers NOT_LEADER_FOR_PARTITION
      // for a moment; kafkajs marks such errors retriable. 10 attempts, 26 s of backoff in all.
      for (let attempt = 1; ; attempt++) {
        try {
          ends = await admin.fetchTopicOffsets(opts.topic);
          break;
        } catch (e) {
          if ((e as { retriable?: boolean }).retriable !== true || attempt >= 10) throw e;
          log.warn({ err: (e as Error).message, attempt }, 'end offsets not available yet; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
        }
      }
    } finally {
      await admin.disconnect();
    }

    const c = opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      // An empty fetch returns after 1 s instead of kafkajs' 5 s, so stopping is quick; data
      // still returns at once (minBytes 1). One small request a second per broker.
      maxWaitTimeInMs: 1000,
    });
    consumer = c;
    untrackLag?.();
    untrackLag = trackConsumerLag(c, metrics.getMeter('projector'), {
      name: 'projector.updates.lag',
      description:
        'Pool updates not yet read, per partition (high watermark of the last fetch − next offset)',
    });
    let joined = false;
    c.on(c.events.GROUP_JOIN, () => {
      joins += 1;
      reason = null;
      // Seeking needs a joined group: right after run() it throws when the first join failed
      // and the consumer is restarting (a fresh broker's coordinator still loading ended a
      // projector's start that way). On this consumer's first join the group is there and
      // nothing has been fetched yet. A replacement seeks too: left to "latest" (nothing is
      // committed), it would skip what arrived between its join and its first fetch; from the
      // ends read before it was made, it reads that again at worst (an older version is ignored).
      if (!joined)
        for (const { partition, high } of ends) c.seek({ topic: opts.topic, partition, offset: high });
      joined = true;
      if (joins > 1) {
        log.warn({ joins }, 'rejoined the consumer group; re-reading Postgres');
        opts.onRejoin();
      }
    });
    c.on(c.events.CRASH, ({ payload }) => {
      reason = `consumer crashed: ${payload.error.message}`;
      log.error({ err: payload.error, restart: payload.restart }, 'update consumer crashed');
      if (!payload.restart && !stopped && !replacing && consumer === c) void replace(c);
    });
    c.on(c.events.STOP, () => {
      reason = 'consumer stopped';
    });

    await c.connect();
    await c.subscribe({ topics: [opts.topic], fromBeginning: false });
    await c.run({
      autoCommit: false,
      eachMessage: ({ message, partition }) => {
        opts.onMessage(message.value, partition);
        return Promise.resolve();
      },
    });
    log.info({ partitions: ends.length }, 'consuming pool updates');
  }

  return {
    start,
    async stop() {
      stopped = true;
      const c = consumer;
      consumer = null;
      reason = 'stopped';
      if (c !== null) await c.disconnect();
    },
    notRunningReason: () => reason,
  };
}
