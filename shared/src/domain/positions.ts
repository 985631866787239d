/**
 * Whether the consumer positions stored in Postgres belong to the topic a replica reads.
 *
 * A position is the next offset to apply in one partition; the window transaction drops every
 * message below it as already applied. That is only true of the topic the positions were taken
 * from: a new broker, a recreated topic or a failover to another cluster starts its offsets at 0
 * again, and positions of ~300,000 would count every new wager as applied and drop it. Positions
 * are therefore kept with the Kafka cluster id they were taken on, and judged against the
 * partitions' current start (low watermark) and end (high watermark) before anything is applied.
 */

export interface PartitionRange {
  readonly partition: number;
  /** The first offset still in the partition (retention deletes below it). */
  readonly low: bigint;
  /** The offset the next message will get. */
  readonly high: bigint;
}

export type PositionProblem =
  | { readonly kind: 'cluster_changed'; readonly storedClusterId: string; readonly clusterId: string }
  | {
      readonly kind: 'beyond_end';
      readonly partition: number;
      readonly position: bigint;
      readonly high: bigint;
    }
  | {
      readonly kind: 'below_start';
      readonly partition: number;
      readonly position: bigint;
      readonly low: bigint;
    }
  | { readonly kind: 'partition_missing'; readonly partition: number; readonly position: bigint };

export interface PositionsVerdict {
  /** Empty when the positions belong to this topic. */
  readonly problems: readonly PositionProblem[];
  /**
   * Partitions that have no position yet, with the one to store: the partition's start, where a
   * consumer group that reads from the beginning is assigned from. Stored before anything of the
   * partition is applied, so a failed first window can never be skipped by a later one.
   */
  readonly initial: readonly { readonly partition: number; readonly offset: bigint }[];
}

/**
 * `stored`: the positions in Postgres; a negative one was never written (older versions created
 * rows at -1). `storedClusterId`: null when none was recorded yet (a new group, or positions from
 * before cluster ids were kept): then the positions are judged by the ranges alone and adopted.
 */
export function judgePositions(input: {
  readonly clusterId: string;
  readonly storedClusterId: string | null;
  readonly stored: ReadonlyMap<number, bigint>;
  readonly ranges: readonly PartitionRange[];
}): PositionsVerdict {
  const problems: PositionProblem[] = [];
  const written = [...input.stored].filter(([, position]) => position >= 0n).sort(([a], [b]) => a - b);
  if (input.storedClusterId !== null && input.storedClusterId !== input.clusterId && written.length > 0) {
    problems.push({
      kind: 'cluster_changed',
      storedClusterId: input.storedClusterId,
      clusterId: input.clusterId,
    });
  }
  const ranges = new Map(input.ranges.map((r) => [r.partition, r]));
  for (const [partition, position] of written) {
    const range = ranges.get(partition);
    if (range === undefined) problems.push({ kind: 'partition_missing', partition, position });
    else if (position > range.high)
      problems.push({ kind: 'beyond_end', partition, position, high: range.high });
    else if (position < range.low)
      problems.push({ kind: 'below_start', partition, position, low: range.low });
  }
  const initial = [...input.ranges]
    .sort((a, b) => a.partition - b.partition)
    .filter((r) => (input.stored.get(r.partition) ?? -1n) < 0n)
    .map((r) => ({ partition: r.partition, offset: r.low }));
  return { problems, initial };
}

/** One line an operator can act on. */
export function describePositionProblem(p: PositionProblem): string {
  switch (p.kind) {
    case 'cluster_changed':
      return `the positions were stored for Kafka cluster ${p.storedClusterId}, but the broker is cluster ${p.clusterId} (a new broker or a failover: its offsets are not the ones applied)`;
    case 'beyond_end':
      return `partition ${p.partition}: stored position ${p.position} is past the partition's end ${p.high} (the topic was recreated or is another topic)`;
    case 'below_start':
      return `partition ${p.partition}: stored position ${p.position} is below the partition's first offset ${p.low} (messages were deleted before they were applied)`;
    case 'partition_missing':
      return `partition ${p.partition}: a position is stored but the topic has no such partition (the topic was recreated with fewer partitions)`;
  }
}
