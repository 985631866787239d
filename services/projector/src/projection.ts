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
 * - **Update**: one new state of a pool, from the `jackpot.pool-updates.v1` topic (no tier or
 *   currency) or from a row of `jackpot.pool_totals` (all fields).
 * - **View**: what the read API serves for a pool; the contract's fields of `GET /v1/pools`.
 */

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
 * A new state of one pool. Messages on the topic carry no tier or currency (they never change
 * for a pool); rows from Postgres carry both, and only they can introduce a pool.
 */
export interface PoolUpdate {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier?: string;
  readonly currency?: string;
  readonly amountMinor: bigint;
  readonly cycle: number;
  readonly version: number;
  readonly updatedAt: string;
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
export function applyUpdate(current: PoolView | undefined, update: PoolUpdate): ApplyOutcome {
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
