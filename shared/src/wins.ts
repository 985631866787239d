/**
 * Claimed wins (`POST /v1/wins`): one Postgres transaction locks the pool row, pays the whole
 * minor units of its current amount, records the win with its cycle, and opens the next cycle at
 * the seed (funded from the reserve, else a recorded top-up); the fraction below one minor unit
 * carries into the next cycle. It goes straight to Postgres, never through the wager topic, so a
 * win never waits behind the wager backlog: at most behind one window transaction holding the
 * pool's row (tens of milliseconds).
 *
 * Wagers committed before the win's commit are in the paid cycle; later ones in the next cycle
 * (the ledger's `cycle` column says which). A second claim on the same pool a moment later is a
 * win of its own: it pays what the pool holds then, the new cycle's seed plus what was carried in,
 * and its answer names that cycle. The same claimId returns the first answer, whatever the pool
 * holds now; a claimId reused for another pool is refused.
 */
import type pg from 'pg';
import { withTransaction } from './db.js';
import { claimWin, MICRO_PER_MINOR, type PoolLifecycleState } from './domain/index.js';
import type { WinClaim } from './domain/win-claim.js';
import { lockPools, newWinId, savePoolChanges, secureDrawMinor } from './pool-store.js';
import type { PoolUpdateMessage } from './messages/pool-update.js';

export interface WinAnswer {
  readonly winId: string;
  readonly poolId: string;
  readonly cycle: number;
  readonly amountMinor: number;
  readonly wonAt: string;
}

export type ClaimOutcome =
  | { readonly kind: 'won'; readonly answer: WinAnswer; readonly update: PoolUpdateMessage | null }
  | { readonly kind: 'replayed'; readonly answer: WinAnswer }
  | { readonly kind: 'claim_id_reused'; readonly poolId: string }
  | { readonly kind: 'pool_not_found' }
  | { readonly kind: 'game_not_linked'; readonly jackpotId: string };

interface WinRow {
  win_id: string;
  pool_id: string;
  cycle: number;
  amount_minor: string;
  won_at: Date;
}

const toAnswer = (r: WinRow): WinAnswer => ({
  winId: r.win_id,
  poolId: r.pool_id,
  cycle: r.cycle,
  amountMinor: Number(r.amount_minor),
  wonAt: r.won_at.toISOString(),
});

async function findClaim(client: pg.PoolClient, claimId: string): Promise<WinRow | undefined> {
  const { rows } = await client.query<WinRow>({
    text: 'SELECT win_id::text, pool_id, cycle, amount_minor::text, won_at FROM jackpot.wins WHERE claim_id = $1',
    values: [claimId],
  });
  return rows[0];
}

export async function claimPoolWin(pool: pg.Pool, claim: WinClaim): Promise<ClaimOutcome> {
  try {
    return await withTransaction(pool, async (client) => {
      const earlier = await findClaim(client, claim.claimId);
      if (earlier !== undefined) return replay(earlier, claim);
      const locked = await lockPools(client, { poolIds: [claim.poolId] });
      const current = locked.get(claim.poolId);
      if (current === undefined) return { kind: 'pool_not_found' };
      // Checked again under the pool's lock: a concurrent copy of this claim may have just won.
      const raced = await findClaim(client, claim.claimId);
      if (raced !== undefined) return replay(raced, claim);
      const link = await client.query({
        text: 'SELECT 1 FROM jackpot.games WHERE game_id = $1 AND jackpot_id = $2',
        values: [claim.gameId, current.jackpotId],
      });
      if (link.rowCount === 0) return { kind: 'game_not_linked', jackpotId: current.jackpotId };

      const { state, close, opening } = claimWin(current.state, current.nextParams, secureDrawMinor);
      const winId = newWinId();
      const [update] = await savePoolChanges(client, {
        before: locked,
        after: new Map<string, PoolLifecycleState>([[claim.poolId, state]]),
        deltas: [],
        closes: [{ poolId: claim.poolId, ...close }],
        openings: [{ poolId: claim.poolId, ...opening }],
        wins: [
          {
            winId,
            claimId: claim.claimId,
            poolId: claim.poolId,
            cycle: close.cycle,
            kind: 'claim',
            payoutMicro: close.payoutMicro,
            gameId: claim.gameId,
            playerId: claim.playerId,
            eventId: null,
          },
        ],
      });
      const won = await client.query<{ won_at: Date }>({
        text: 'SELECT won_at FROM jackpot.wins WHERE win_id = $1',
        values: [winId],
      });
      const answer: WinAnswer = {
        winId,
        poolId: claim.poolId,
        cycle: close.cycle,
        amountMinor: Number(close.payoutMicro / MICRO_PER_MINOR),
        wonAt: (won.rows[0]?.won_at ?? new Date()).toISOString(),
      };
      return { kind: 'won', answer, update: update ?? null };
    });
  } catch (e) {
    // 23505 on claim_id: the same claimId won on another pool at the same instant.
    if (
      (e as { code?: string; constraint?: string }).code === '23505' &&
      (e as { constraint?: string }).constraint === 'wins_claim_id_key'
    ) {
      return withTransaction(pool, async (client) => {
        const row = await findClaim(client, claim.claimId);
        if (row === undefined) throw e;
        return replay(row, claim);
      });
    }
    throw e;
  }
}

function replay(row: WinRow, claim: WinClaim): ClaimOutcome {
  return row.pool_id === claim.poolId
    ? { kind: 'replayed', answer: toAnswer(row) }
    : { kind: 'claim_id_reused', poolId: row.pool_id };
}
