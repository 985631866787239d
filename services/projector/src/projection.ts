/**
 * The projection: the read model of every pool as game displays see it. Pure: no I/O, no clock,
 * no cache; the store and the sources around it do the I/O.
 *
 * Glossary
 * - **Pool**: one tier of a jackpot, id `"{jackpotId}:{tier}"`, with its running amount.
 * - **Cycle**: the life of a pool between two wins, numbered from 1.
 * - **Version**: a per-pool counter that the aggregator (and a win) bumps in the same
 *   transaction as every change of the pool's row. It grows strictly, so the higher version is
 *   the newer state whatever order Kafka and Postgres deliver them in.
 * - **Snapshot**: one state of a pool, from the `jackpot.pool-updates.v1` topic (no tier or
 *   currency) or from a row of `jackpot.pool_totals` (all fields).
 * - **View**: what the read API serves for a pool; the contract's fields of `GET /v1/pools`.
 * - **Resync**: a read of every pool from Postgres, the authority. Its rows go through
 *   `resyncPool`, not `applyUpdate`: a held view Postgres does not confirm is replaced, whatever
 *   its version, so a wrong message (a bug, or a forged one) is served until the next resync at
 *   most, never until restart.
 */

import type { PoolUpdateMessage } from '../../../shared/src/messages/pool-update.js';

export interface PoolView {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier: string;
  readonly currency: string;
  /** Whole minor units, floor(micro / 1e6). BigInt: exact whatever the size of the pool. */
  readonly amountMinor: bigint;
  readonly cycle: number;
  readonly version: number;
  /** ISO 8601, as the writer gave it. */
  readonly updatedAt: string;
}

/**
 * One state of a pool, from either source: a message of the topic (a `PoolUpdateMessage`, which
 * carries no tier or currency: they never change for a pool) or a row of `jackpot.pool_totals`
 * (all fields; only rows can introduce a pool).
 */
export interface PoolSnapshot extends PoolUpdateMessage {
  readonly tier?: string;
  readonly currency?: string;
}

export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly view: PoolView }
  /** The update's version is lower than the one held: an older state arriving late. */
  | { readonly kind: 'stale' }
  /** Same version as the one held: the same state seen twice (topic and resync, redelivery). */
  | { readonly kind: 'duplicate' }
  /** No view of this pool yet and the update lacks tier or currency: ask Postgres. */
  | { readonly kind: 'unknown-pool' };

/**
 * The one rule every source goes through: a pool's view only moves to a strictly higher version.
 * `current` is the view held for `update.poolId`, if any.
 */
export function applyUpdate(current: PoolView | undefined, update: PoolSnapshot): ApplyOutcome {
  if (current !== undefined && current.poolId !== update.poolId) {
    throw new RangeError(`applyUpdate: view of ${current.poolId} given for an update of ${update.poolId}`);
  }
  if (current !== undefined) {
    if (update.version < current.version) return { kind: 'stale' };
    if (update.version === current.version) return { kind: 'duplicate' };
  }
  const tier = update.tier ?? current?.tier;
  const currency = update.currency ?? current?.currency;
  if (tier === undefined || currency === undefined) return { kind: 'unknown-pool' };
  return {
    kind: 'applied',
    view: {
      poolId: update.poolId,
      jackpotId: update.jackpotId,
      tier,
      currency,
      amountMinor: update.amountMinor,
      cycle: update.cycle,
      version: update.version,
      updatedAt: update.updatedAt,
    },
  };
}

export type ResyncOutcome =
  /** Postgres is newer than the view held, or the pool is new. */
  | { readonly kind: 'applied'; readonly view: PoolView }
  /** Postgres holds the state served. */
  | { readonly kind: 'confirmed' }
  /** The view held is not in Postgres (a version it never committed, or other numbers for the
   * same version): Postgres's row replaces it, even at a lower version. */
  | { readonly kind: 'corrected'; readonly view: PoolView }
  /** The view held is newer than the row but arrived after the read was sent: it may be a commit
   * the read's snapshot missed. Kept; the next resync confirms or corrects it. */
  | { readonly kind: 'unconfirmed' };

/** The served state of two views of one pool is the same: money, cycle, names. */
function sameState(a: PoolView, b: PoolView): boolean {
  // updatedAt is left out: a message carries the writer's reading of the commit time, which may
  // differ from Postgres's text of it by a millisecond's rounding, and no one is paid by it.
  return (
    a.amountMinor === b.amountMinor &&
    a.cycle === b.cycle &&
    a.jackpotId === b.jackpotId &&
    a.tier === b.tier &&
    a.currency === b.currency
  );
}

/**
 * What a row read from Postgres does to the view held for its pool. `heldSinceRead`: the held view
 * was applied after the read was sent. Every pool update is published only after its commit, so a
 * message that arrived before the read was sent is in the read's snapshot if it is true; one that
 * arrived later may be a newer commit, and the next resync decides. A wrong view is therefore
 * served for at most one resync period, and a true newer one is never moved backwards.
 */
export function resyncPool(
  current: PoolView | undefined,
  row: PoolView,
  heldSinceRead: boolean,
): ResyncOutcome {
  if (current !== undefined && current.poolId !== row.poolId) {
    throw new RangeError(`resyncPool: view of ${current.poolId} given for a row of ${row.poolId}`);
  }
  if (current === undefined || row.version > current.version) return { kind: 'applied', view: row };
  if (row.version === current.version)
    return sameState(current, row) ? { kind: 'confirmed' } : { kind: 'corrected', view: row };
  return heldSinceRead ? { kind: 'unconfirmed' } : { kind: 'corrected', view: row };
}

/**
 * The ids held that a full snapshot of Postgres no longer has: pools whose jackpot was deleted.
 * A pool is never deleted otherwise, so a pool missing from a snapshot taken after it was first
 * seen is really gone.
 */
export function poolsToRemove(held: Iterable<string>, snapshot: Iterable<string>): string[] {
  const present = new Set(snapshot);
  const gone: string[] = [];
  for (const id of held) if (!present.has(id)) gone.push(id);
  return gone;
}

/** Sorted by poolId in code-unit order: stable across locales and the same as Postgres' "C" collation. */
export function comparePoolIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
