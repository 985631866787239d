import type pg from 'pg';

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
