/**
 * Kafka's committed offsets of the aggregator group, which are only a hint for lag monitors (KEDA,
 * kafka-consumer-groups): the positions that count are in Postgres. They are committed at most
 * once every `intervalMs`, each partition's newest position, not after every window (one request
 * and one __consumer_offsets append saved per window).
 *
 * Only partitions this replica owns are committed. A window of a partition that a rebalance gave
 * away can still commit in Postgres after the assignment changed (the fence let it: it was ahead);
 * committing its position to Kafka then could set the group's offset back under what the new owner
 * already committed, and lag monitors would see lag that is not there.
 */
export interface OffsetCommitsOptions {
  readonly topic: string;
  readonly intervalMs: number;
  /** kafkajs `consumer.commitOffsets`; a failure is only reported (Postgres holds the position). */
  readonly commit: (offsets: { topic: string; partition: number; offset: string }[]) => Promise<unknown>;
  readonly onError: (e: unknown) => void;
}

export interface OffsetCommits {
  /** The replica's partitions now (on every group join): positions of the others are dropped. */
  assign(partitions: readonly number[]): void;
  /** Positions just stored in Postgres; committed within `intervalMs`. */
  add(positions: readonly { partition: number; nextOffset: string }[]): void;
  /** Commits what is pending now (a stopping replica, before it leaves); later `add`s are ignored. */
  stop(): Promise<void>;
}

export function createOffsetCommits(opts: OffsetCommitsOptions): OffsetCommits {
  const pending = new Map<number, string>();
  let owned = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function commitNow(): Promise<void> {
    timer = undefined;
    if (pending.size === 0) return Promise.resolve();
    const offsets = [...pending].map(([partition, offset]) => ({ topic: opts.topic, partition, offset }));
    pending.clear();
    return opts.commit(offsets).then(() => undefined, opts.onError);
  }

  return {
    assign(partitions) {
      owned = new Set(partitions);
      for (const p of pending.keys()) if (!owned.has(p)) pending.delete(p);
    },
    add(positions) {
      if (stopped) return; // the group is being left; the next owner commits
      for (const p of positions) if (owned.has(p.partition)) pending.set(p.partition, p.nextOffset);
      if (pending.size > 0) timer ??= setTimeout(() => void commitNow(), opts.intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await commitNow();
    },
  };
}
