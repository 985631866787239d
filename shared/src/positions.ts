/**
 * The consumer positions that Postgres holds for a consumer group (`jackpot.consumer_offsets`),
 * checked against the topic the group reads (shared/src/domain/positions.ts says why and how),
 * created for partitions that have none, and moved onto a new topic by an operator on purpose.
 * Used by the aggregator (on every assignment and every half minute), the command line
 * (`positions`, `positions rebase`) and `stack:up`.
 */
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { withTransaction, type Db } from './db.js';
import {
  describePositionProblem,
  judgePositions,
  type PartitionRange,
  type PositionProblem,
} from './domain/positions.js';

export interface TopicSource {
  readonly clusterId: string;
  readonly ranges: readonly PartitionRange[];
}

/** The cluster id and every partition's first and next offset, from the broker. */
export async function readTopicSource(
  admin: Pick<Admin, 'describeCluster' | 'fetchTopicOffsets'>,
  topic: string,
): Promise<TopicSource> {
  const { clusterId } = await admin.describeCluster();
  const offsets = await admin.fetchTopicOffsets(topic);
  return {
    clusterId,
    ranges: offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })),
  };
}

export interface StoredPositions {
  readonly clusterId: string | null;
  /** By partition; negative: never written. */
  readonly positions: ReadonlyMap<number, bigint>;
}

export async function readStoredPositions(
  db: Pick<pg.Pool, 'query'>,
  groupId: string,
  topic: string,
): Promise<StoredPositions> {
  const { rows } = await db.query<{
    partition: number | null;
    next_offset: string | null;
    cluster_id: string | null;
  }>({
    text: `SELECT o.partition, o.next_offset::text AS next_offset, s.cluster_id
           FROM (SELECT $1::text AS group_id, $2::text AS topic) k
           LEFT JOIN jackpot.consumer_sources s ON s.group_id = k.group_id AND s.topic = k.topic
           LEFT JOIN jackpot.consumer_offsets o ON o.group_id = k.group_id AND o.topic = k.topic
           ORDER BY o.partition`,
    values: [groupId, topic],
  });
  const positions = new Map<number, bigint>();
  for (const r of rows)
    if (r.partition !== null && r.next_offset !== null) positions.set(r.partition, BigInt(r.next_offset));
  return { clusterId: rows[0]?.cluster_id ?? null, positions };
}

export interface PositionsCheck {
  readonly clusterId: string;
  readonly problems: readonly PositionProblem[];
  /** The positions after the check (created ones included); empty when there are problems. */
  readonly positions: ReadonlyMap<number, bigint>;
}

/**
 * Judges the stored positions against the topic and, when they belong to it, records the cluster
 * (if none was) and creates the missing positions at each partition's first offset. Nothing is
 * written when there is a problem. The stored positions are read before the broker's offsets: a
 * position only ever points at offsets that existed, and a partition's end only grows, so a window
 * committed meanwhile cannot look like a position past the end.
 */
export async function checkPositions(
  pool: Db,
  admin: Pick<Admin, 'describeCluster' | 'fetchTopicOffsets'>,
  opts: { groupId: string; topic: string },
): Promise<PositionsCheck> {
  const stored = await readStoredPositions(pool, opts.groupId, opts.topic);
  const source = await readTopicSource(admin, opts.topic);
  const verdict = judgePositions({
    clusterId: source.clusterId,
    storedClusterId: stored.clusterId,
    stored: stored.positions,
    ranges: source.ranges,
  });
  if (verdict.problems.length > 0)
    return { clusterId: source.clusterId, problems: verdict.problems, positions: new Map() };
  if (stored.clusterId === null || verdict.initial.length > 0) {
    await withTransaction(pool, async (c) => {
      await c.query({
        text: `INSERT INTO jackpot.consumer_sources (group_id, topic, cluster_id) VALUES ($1, $2, $3) ON CONFLICT (group_id, topic) DO NOTHING`,
        values: [opts.groupId, opts.topic, source.clusterId],
      });
      // A concurrent replica may create the same rows with the same offsets: either write wins.
      await c.query({
        text: `INSERT INTO jackpot.consumer_offsets AS o (group_id, topic, partition, next_offset)
               SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[]) AS i(p, n) ORDER BY p
               ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()
               WHERE o.next_offset < 0`,
        values: [
          opts.groupId,
          opts.topic,
          verdict.initial.map((i) => i.partition),
          verdict.initial.map((i) => i.offset.toString()),
        ],
      });
    });
  }
  const positions = new Map(stored.positions);
  for (const i of verdict.initial) positions.set(i.partition, i.offset);
  return { clusterId: source.clusterId, problems: [], positions };
}

export function describeProblems(problems: readonly PositionProblem[]): string {
  return problems.map(describePositionProblem).join('; ');
}

export interface Rebase {
  readonly before: StoredPositions;
  readonly after: { readonly clusterId: string; readonly positions: ReadonlyMap<number, bigint> };
}

/**
 * Moves a group's positions onto the topic as the broker has it now: every partition at its first
 * offset (`earliest`: apply everything the topic still holds; event ids already applied are still
 * counted once) or at its end (`latest`: apply only what arrives from now on), and records the
 * cluster. Locks the group's positions first, so it waits for a window in progress and no window
 * runs on the old positions after it. Audited in jackpot.config_audit.
 */
export async function rebasePositions(
  pool: Db,
  admin: Pick<Admin, 'describeCluster' | 'fetchTopicOffsets'>,
  opts: { groupId: string; topic: string; to: 'earliest' | 'latest'; actor: string },
): Promise<Rebase> {
  return withTransaction(pool, async (c) => {
    await c.query({
      text: 'SELECT 1 FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2 ORDER BY partition FOR UPDATE',
      values: [opts.groupId, opts.topic],
    });
    const before = await readStoredPositions(c, opts.groupId, opts.topic);
    const source = await readTopicSource(admin, opts.topic);
    const positions = new Map(
      [...source.ranges]
        .sort((a, b) => a.partition - b.partition)
        .map((r) => [r.partition, opts.to === 'earliest' ? r.low : r.high]),
    );
    const partitions = [...positions.keys()].sort((a, b) => a - b);
    await c.query({
      text: 'DELETE FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2 AND NOT (partition = ANY($3::int[]))',
      values: [opts.groupId, opts.topic, partitions],
    });
    await c.query({
      text: `INSERT INTO jackpot.consumer_offsets AS o (group_id, topic, partition, next_offset)
             SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[]) AS i(p, n)
             ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`,
      values: [opts.groupId, opts.topic, partitions, partitions.map((p) => String(positions.get(p)))],
    });
    await c.query({
      text: `INSERT INTO jackpot.consumer_sources (group_id, topic, cluster_id) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, topic) DO UPDATE SET cluster_id = excluded.cluster_id, recorded_at = now()`,
      values: [opts.groupId, opts.topic, source.clusterId],
    });
    const json = (clusterId: string | null, ps: ReadonlyMap<number, bigint>) => ({
      clusterId,
      positions: Object.fromEntries(
        [...ps].sort(([a], [b]) => a - b).map(([p, n]) => [String(p), n.toString()]),
      ),
    });
    await c.query({
      text: `INSERT INTO jackpot.config_audit (actor, action, subject, old_value, new_value) VALUES ($1, 'positions.rebase', $2, $3, $4)`,
      values: [
        opts.actor,
        `${opts.groupId}/${opts.topic}`,
        json(before.clusterId, before.positions),
        { ...json(source.clusterId, positions), to: opts.to },
      ],
    });
    return { before, after: { clusterId: source.clusterId, positions } };
  });
}
