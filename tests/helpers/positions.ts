import type pg from 'pg';
import {
  applyWindow,
  type InMessage,
  type WindowOutcome,
} from '../../services/aggregator/src/apply-window.js';
import { withTransaction } from '../../shared/src/db.js';
import type { DrawTriggerMinor } from '../../shared/src/domain/index.js';

/**
 * What an aggregator's positions check does when a partition is first assigned (records the
 * cluster and the partitions' first offsets), for tests that write windows with applyWindow
 * directly, without a broker.
 */
export async function positionPartitions(
  pool: pg.Pool,
  opts: { groupId: string; topic: string; clusterId: string; partitions: readonly number[]; offset?: number },
): Promise<void> {
  await pool.query({
    text: 'INSERT INTO jackpot.consumer_sources (group_id, topic, cluster_id) VALUES ($1, $2, $3) ON CONFLICT (group_id, topic) DO UPDATE SET cluster_id = excluded.cluster_id',
    values: [opts.groupId, opts.topic, opts.clusterId],
  });
  await pool.query({
    text: `INSERT INTO jackpot.consumer_offsets (group_id, topic, partition, next_offset)
           SELECT $1, $2, p, $4 FROM unnest($3::int[]) AS p ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset`,
    values: [opts.groupId, opts.topic, opts.partitions, opts.offset ?? 0],
  });
}

/** A wager as one Kafka message; the writer gives it its offset. */
export type WindowMessage = Omit<InMessage, 'offset'>;

/**
 * Windows written as an aggregator writes them, without a broker: partition 0 of topic `t` for
 * group `g` is positioned once, then each call applies its messages as one window, in its own
 * transaction, at the next offsets.
 */
export async function windowWriter(
  pool: pg.Pool,
  clusterId = 'c',
): Promise<
  (messages: readonly WindowMessage[], drawTriggerMinor?: DrawTriggerMinor) => Promise<WindowOutcome>
> {
  const at = { groupId: 'g', topic: 't', clusterId };
  await positionPartitions(pool, { ...at, partitions: [0] });
  let next = 0;
  return (messages, drawTriggerMinor) => {
    const slice = { partition: 0, messages: messages.map((m) => ({ ...m, offset: String(next++) })) };
    return withTransaction(pool, (c) =>
      applyWindow(c, {
        ...at,
        slices: [slice],
        nowMs: Date.now(),
        ...(drawTriggerMinor ? { drawTriggerMinor } : {}),
      }),
    );
  };
}
