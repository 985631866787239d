/**
 * The aggregator's work beside its windows, on timers: the outbox relay (dead letters and mystery
 * wins written by windows, published to Kafka) and the daily partitions (created a week ahead,
 * days past their retention dropped, one replica at a time). Both are safe to run from every
 * replica at once and to miss a run: Postgres holds what they act on.
 */
import type { Logger } from '../../../shared/src/logger.js';
import { createRelay, relayAwards, relayDeadLetters, type SendPort } from '../../../shared/src/outbox.js';
import {
  dropExpiredPartitions,
  ensureDayPartitions,
  type RetentionDays,
} from '../../../shared/src/retention.js';
import type { Db } from '../../../shared/src/db.js';

export interface Housekeeping {
  /** Creates the missing daily partitions (a week ahead). */
  ensurePartitions(): Promise<void>;
  /** Hourly with the partitions: days past their retention go (one replica at a time). */
  partitions(): Promise<void>;
  /**
   * Publishes the outboxes. One relay at a time: a request during a run gets one more run after
   * it. Never rejects (a failure is logged; the next request retries).
   */
  relayOutboxes(): Promise<void>;
  /**
   * A window wrote to an outbox: relay within RELAY_COALESCE_MS, once for all the windows that
   * asked meanwhile. The window does not wait for it.
   */
  relaySoon(): void;
  /** Runs a relay still waiting to start, and resolves when the latest one has ended (shutdown). */
  relayed(): Promise<void>;
}

/**
 * How long a window's relay request waits for others. Under a steady 0.5 % of bad input every
 * window dead-letters something; relaying after each one (40 windows a second here) made the
 * relay's lease claim the most frequent statement a replica ran. A dead letter reaches its topic
 * at most this much later.
 */
export const RELAY_COALESCE_MS = 200;

export function createHousekeeping(deps: {
  readonly pool: Db;
  readonly producer: SendPort;
  readonly config: {
    readonly dlqTopic: string;
    readonly awardsTopic: string;
    readonly retentionDays: RetentionDays;
  };
  readonly logger: Logger;
  readonly clock: () => number;
}): Housekeeping {
  const { pool, producer, config, logger, clock } = deps;
  const outboxRelay = createRelay({
    run: async () => {
      await relayDeadLetters(pool, producer, config.dlqTopic);
      await relayAwards(pool, producer, config.awardsTopic);
    },
    onError: (err) => logger.warn({ err: err.message }, 'outbox relay failed; will retry'),
  });
  /** The latest relay requested. */
  let relaying: Promise<void> | undefined;
  /** A relay asked for by windows, not started yet. */
  let soon: NodeJS.Timeout | undefined;

  function relayOutboxes(): Promise<void> {
    relaying = outboxRelay.request();
    return relaying;
  }

  function startSoon(): void {
    if (soon === undefined) return;
    clearTimeout(soon);
    soon = undefined;
    void relayOutboxes();
  }

  async function ensurePartitions(): Promise<void> {
    const skipped = await ensureDayPartitions(pool, clock());
    if (skipped.length > 0)
      logger.warn({ skipped }, 'partitions not created: their table stayed locked for 5 s; next run retries');
  }

  return {
    ensurePartitions,
    async partitions() {
      await ensurePartitions();
      const dropped = await dropExpiredPartitions(pool, config.retentionDays);
      if (dropped.length > 0) logger.info({ dropped }, 'partitions past their retention dropped');
    },
    relayOutboxes,
    relaySoon() {
      if (soon === undefined) soon = setTimeout(startSoon, RELAY_COALESCE_MS);
    },
    async relayed() {
      startSoon();
      await relaying;
    },
  };
}
