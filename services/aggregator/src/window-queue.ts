/**
 * The windows between Kafka and Postgres. Fetched slices gather in the open window, which closes
 * when it holds `maxEvents()` wagers, or once the fetch that brought its slices is handed over
 * and a writer can start it at once; closed windows queue, oldest first, for one of
 * `WINDOWS_IN_FLIGHT` writers. So a window is never kept waiting for a timer: at a low rate each
 * fetch (which the broker holds up to AGGREGATOR_BATCH_MAX_WAIT_MS for data) is written as soon as
 * it lands, and under load the open window grows for as long as the writers are busy (fewer, larger
 * transactions exactly when they are needed). Each slice's promise settles with its window's
 * outcome (`write` settles them).
 */
import type { Slice, WindowOutcome } from './apply-window.js';

/**
 * Windows written at once, each in its own transaction on its own connection. Two: while one
 * COPYs its ledger rows and commits, the next one takes its fence, claims its event ids and
 * plans (Postgres and Node each have a core to do it on); they meet at the pool row locks, so
 * pools are still written one window after the other. Two windows in flight never share a
 * partition (see startWrites), so their fences never wait for each other. More than two would
 * only queue at the pool locks.
 */
const WINDOWS_IN_FLIGHT = 2;

export interface Pending {
  readonly slice: Slice;
  readonly resolve: (o: WindowOutcome) => void;
  readonly reject: (e: Error) => void;
}

export interface WindowQueue {
  /** Adds a slice to the open window; settles with that window's outcome. */
  add(slice: Slice): Promise<WindowOutcome>;
  /** Closed windows waiting for a writer. */
  queued(): number;
  /** Resolves when no window is queued or being written. */
  drained(): Promise<void>;
  /**
   * Rejects the open window and the closed ones no writer has started (stopping: whoever owns
   * their partitions next reads them again from the stored positions); windows being written
   * go on.
   */
  abandon(reason: Error): void;
}

export function createWindowQueue(opts: {
  /** A window's size now (it shrinks under memory pressure). */
  readonly maxEvents: () => number;
  /** While stopping, every slice closes its window at once. */
  readonly stopping: () => boolean;
  /** Writes one window and settles its slices' promises. */
  readonly write: (window: readonly Pending[]) => Promise<void>;
  /** Called when the number of queued windows may have changed. */
  readonly onQueueChange: () => void;
}): WindowQueue {
  let pending: Pending[] = [];
  let pendingEvents = 0;
  /** A check, after the slices of this fetch are all added, whether the open window can start. */
  let check: NodeJS.Immediate | undefined;
  /** Closed windows waiting for one of the WINDOWS_IN_FLIGHT slots, oldest first. */
  const queued: Pending[][] = [];
  let writing = 0;
  /** Partitions of the windows being written, with how many slices of each. */
  const partitionsWriting = new Map<number, number>();
  let drainedWaiters: (() => void)[] = [];

  /** Resolves the `drained()` callers once nothing is queued or being written. */
  function settleDrained(): void {
    if (writing > 0 || queued.length > 0) return;
    const waiters = drainedWaiters;
    drainedWaiters = [];
    for (const w of waiters) w();
  }

  function schedule(): void {
    if (pending.length === 0) return;
    if (pendingEvents >= opts.maxEvents() || opts.stopping()) flushNow();
    // kafkajs hands a fetch's batches over in one go (microtasks): by the next turn of the event
    // loop they are all in the open window.
    else check ??= setImmediate(closeIfWriterFree);
  }

  /**
   * A writer is free, and no window being written has a partition of this one. A partition in a
   * window being written keeps the next window with that partition (a later slice of a batch cut
   * in two, or the next fetch) waiting: its fence must see the earlier slice's position. A position
   * never written yet (-1) accepts any first offset, so a race there would skip the earlier slice.
   */
  function canStart(window: readonly Pending[]): boolean {
    return writing < WINDOWS_IN_FLIGHT && !window.some((p) => partitionsWriting.has(p.slice.partition));
  }

  /** Closes the open window if it would be written at once; else it keeps growing until it would. */
  function closeIfWriterFree(): void {
    check = undefined;
    if (pending.length > 0 && queued.length === 0 && canStart(pending)) flushNow();
  }

  function flushNow(): void {
    if (check !== undefined) clearImmediate(check);
    check = undefined;
    if (pending.length === 0) return;
    queued.push(pending);
    pending = [];
    pendingEvents = 0;
    startWrites();
    opts.onQueueChange();
  }

  function startWrites(): void {
    for (;;) {
      const window = queued[0];
      // Windows start in order: when the head cannot, the rest wait behind it.
      if (window === undefined || !canStart(window)) return;
      queued.shift();
      opts.onQueueChange();
      writing++;
      for (const p of window)
        partitionsWriting.set(p.slice.partition, (partitionsWriting.get(p.slice.partition) ?? 0) + 1);
      void opts.write(window).finally(() => {
        writing--;
        for (const p of window) {
          const n = (partitionsWriting.get(p.slice.partition) ?? 1) - 1;
          if (n === 0) partitionsWriting.delete(p.slice.partition);
          else partitionsWriting.set(p.slice.partition, n);
        }
        startWrites();
        closeIfWriterFree();
        settleDrained();
      });
    }
  }

  return {
    add(slice) {
      const outcome = new Promise<WindowOutcome>((resolve, reject) =>
        pending.push({ slice, resolve, reject }),
      );
      pendingEvents += slice.messages.length;
      schedule();
      return outcome;
    },
    queued: () => queued.length,
    abandon(reason) {
      if (check !== undefined) clearImmediate(check);
      check = undefined;
      const dropped = [pending, ...queued.splice(0)];
      pending = [];
      pendingEvents = 0;
      for (const window of dropped) for (const p of window) p.reject(reason);
      opts.onQueueChange();
      settleDrained();
    },
    drained() {
      if (writing === 0 && queued.length === 0) return Promise.resolve();
      return new Promise((resolve) => drainedWaiters.push(resolve));
    },
  };
}
