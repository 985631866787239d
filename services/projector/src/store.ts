/**
 * The pool views in memory, and the bytes the read API serves.
 *
 * `GET /v1/pools` is what every game display polls, so its answer is kept ready as one Buffer:
 * a change drops it and the next request rebuilds it (a few dozen pools, microseconds), and every
 * other request sends the same bytes without serializing anything.
 */
import NodeCache from 'node-cache';
import {
  applyUpdate,
  comparePoolIds,
  resyncPool,
  type ApplyOutcome,
  type PoolSnapshot,
  type PoolView,
  type ResyncOutcome,
} from './projection.js';
import { poolJson } from './pool-json.js';

export interface PoolEntry {
  readonly view: PoolView;
  /** `poolJson(view)`, computed once per version and shared by GET and every SSE client. */
  readonly json: string;
  /** When it was stored, in the store's own count of changes (compared with `readMark()`). */
  readonly seq: number;
}

/** Called synchronously after a pool changed. Must not throw. */
export type ChangeListener = (entry: PoolEntry) => void;

export interface PoolStore {
  /** Applies an update through the version check; listeners hear of it when it applied. */
  apply(update: PoolSnapshot): ApplyOutcome;
  /** Taken just before a read of Postgres is sent: tells `resync` which views arrived after it. */
  readMark(): number;
  /**
   * Applies a row of a Postgres read sent after `mark` (`resyncPool`): Postgres replaces what it
   * does not confirm. Listeners hear of it when it applied or corrected.
   */
  resync(row: PoolView, mark: number): ResyncOutcome;
  /** Forgets pools (their jackpot was deleted). */
  remove(poolIds: readonly string[]): void;
  get(poolId: string): PoolEntry | undefined;
  /** Every pool, sorted by poolId. */
  entries(): PoolEntry[];
  ids(): string[];
  /** The body of `GET /v1/pools`: a JSON array sorted by poolId. */
  listJson(): Buffer;
  onChange(listener: ChangeListener): () => void;
  close(): void;
}

export function createPoolStore(): PoolStore {
  // stdTTL 0 and no check period: a live pool never expires (it may not change for hours between
  // quiet periods), and no timer runs. useClones false: entries are immutable and read per request.
  const cache = new NodeCache({ stdTTL: 0, checkperiod: 0, useClones: false });
  const listeners = new Set<ChangeListener>();
  let sortedIds: string[] | null = null;
  let listBytes: Buffer | null = null;
  let changes = 0;

  const get = (poolId: string): PoolEntry | undefined => cache.get<PoolEntry>(poolId);
  const ids = (): string[] => (sortedIds ??= cache.keys().sort(comparePoolIds));
  const entries = (): PoolEntry[] => {
    const out: PoolEntry[] = [];
    for (const id of ids()) {
      const e = get(id);
      if (e !== undefined) out.push(e);
    }
    return out;
  };

  const store = (view: PoolView, isNew: boolean): void => {
    changes += 1;
    const entry: PoolEntry = { view, json: poolJson(view), seq: changes };
    cache.set(view.poolId, entry);
    if (isNew) sortedIds = null;
    listBytes = null;
    for (const listener of listeners) listener(entry);
  };

  return {
    apply(update) {
      const current = get(update.poolId);
      const outcome = applyUpdate(current?.view, update);
      if (outcome.kind === 'applied') store(outcome.view, current === undefined);
      return outcome;
    },
    readMark: () => changes,
    resync(row, mark) {
      const current = get(row.poolId);
      const outcome = resyncPool(current?.view, row, current !== undefined && current.seq > mark);
      if (outcome.kind === 'applied' || outcome.kind === 'corrected')
        store(outcome.view, current === undefined);
      return outcome;
    },
    remove(poolIds) {
      if (poolIds.length === 0) return;
      cache.del([...poolIds]);
      sortedIds = null;
      listBytes = null;
    },
    get,
    entries,
    ids,
    listJson() {
      listBytes ??= Buffer.from(
        `[${entries()
          .map((e) => e.json)
          .join(',')}]`,
        'utf8',
      );
      return listBytes;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      listeners.clear();
      cache.flushAll();
      cache.close();
    },
  };
}
