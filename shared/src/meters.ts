/**
 * Meters per pool, for operators and regulators: wagered in, contributions, the current amount,
 * the reserve, overflow, top-ups, hits, total won and the last wins. Micro-unit amounts are
 * decimal strings (they exceed JavaScript's safe integers); minor-unit ones are numbers.
 * Mystery triggers are deliberately absent.
 */
import type pg from 'pg';
import { isValidFxRateMicro, MAX_FX_RATE_MICRO } from './domain/fx.js';
import { AppError } from './errors.js';

type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolMeters {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier: string;
  readonly currency: string;
  readonly cycle: number;
  readonly amountMinor: number;
  readonly amountMicro: string;
  readonly reserveMicro: string;
  /** Overflow held for the next cycle (policy next-cycle). */
  readonly nextCycleCarryMicro: string;
  readonly wagers: number;
  /** Σ wager amounts as sent, in the wagers' own currencies. */
  readonly wageredMinor: string;
  /** Σ contributions booked to the visible amount, all cycles. */
  readonly contributionMicro: string;
  /** Σ reserve shares. */
  readonly reserveSharesMicro: string;
  /** Σ contributions above the ceiling (to the reserve or the next cycle). */
  readonly overflowMicro: string;
  /** Σ operator top-ups (the first seed and seeds the reserve could not fund). */
  readonly topUpMicro: string;
  readonly hits: number;
  readonly wonMicro: string;
  readonly lastWins: readonly {
    readonly winId: string;
    readonly cycle: number;
    readonly kind: 'claim' | 'mystery';
    readonly amountMinor: number;
    readonly gameId: string;
    readonly playerId: string;
    readonly wonAt: string;
  }[];
}

interface Row {
  pool_id: string;
  jackpot_id: string;
  tier: string;
  currency: string;
  cycle: number;
  amount_minor: string;
  amount_micro: string;
  reserve_micro: string;
  next_carry_micro: string;
  wagers_total: string;
  wagered_minor_total: string;
  contribution_micro_total: string;
  reserve_micro_total: string;
  overflow_micro_total: string;
  topup_micro_total: string;
  hits: string;
  won_micro_total: string;
  last_wins: {
    win_id: string;
    cycle: number;
    kind: 'claim' | 'mystery';
    amount_minor: number;
    game_id: string;
    player_id: string;
    won_at: string;
  }[];
}

/** Meters of one pool, or of every pool when `poolId` is null; sorted by pool id. */
export async function readMeters(db: Queryable, poolId: string | null, lastWins = 10): Promise<PoolMeters[]> {
  const { rows } = await db.query<Row>(
    `SELECT t.pool_id, t.jackpot_id, t.tier, t.currency, t.cycle, t.amount_minor::text, t.amount_micro::text, t.reserve_micro::text,
            t.next_carry_micro::text, t.wagers_total::text, t.wagered_minor_total::text, t.contribution_micro_total::text,
            t.reserve_micro_total::text, t.overflow_micro_total::text, t.topup_micro_total::text, t.hits::text, t.won_micro_total::text,
            coalesce((SELECT json_agg(w ORDER BY w.won_at DESC) FROM (
                SELECT win_id, cycle, kind, amount_minor, game_id, player_id, won_at FROM jackpot.wins
                WHERE pool_id = t.pool_id ORDER BY won_at DESC LIMIT $2) w), '[]'::json) AS last_wins
     FROM jackpot.pool_totals t WHERE $1::text IS NULL OR t.pool_id = $1 ORDER BY t.pool_id`,
    [poolId, lastWins],
  );
  return rows.map((r) => ({
    poolId: r.pool_id,
    jackpotId: r.jackpot_id,
    tier: r.tier,
    currency: r.currency,
    cycle: r.cycle,
    amountMinor: Number(r.amount_minor),
    amountMicro: r.amount_micro,
    reserveMicro: r.reserve_micro,
    nextCycleCarryMicro: r.next_carry_micro,
    wagers: Number(r.wagers_total),
    wageredMinor: r.wagered_minor_total,
    contributionMicro: r.contribution_micro_total,
    reserveSharesMicro: r.reserve_micro_total,
    overflowMicro: r.overflow_micro_total,
    topUpMicro: r.topup_micro_total,
    hits: Number(r.hits),
    wonMicro: r.won_micro_total,
    lastWins: r.last_wins.map((w) => ({
      winId: w.win_id,
      cycle: w.cycle,
      kind: w.kind,
      amountMinor: Number(w.amount_minor),
      gameId: w.game_id,
      playerId: w.player_id,
      wonAt: new Date(w.won_at).toISOString(),
    })),
  }));
}

export interface FxRate {
  readonly from: string;
  readonly to: string;
  readonly rateMicro: number;
  readonly updatedAt: string;
}

export async function listFxRates(db: Queryable): Promise<FxRate[]> {
  const { rows } = await db.query<{
    from_currency: string;
    to_currency: string;
    rate_micro: string;
    updated_at: Date;
  }>('SELECT from_currency, to_currency, rate_micro::text, updated_at FROM jackpot.fx_rates ORDER BY 1, 2');
  return rows.map((r) => ({
    from: r.from_currency,
    to: r.to_currency,
    rateMicro: Number(r.rate_micro),
    updatedAt: r.updated_at.toISOString(),
  }));
}

/**
 * Sets a conversion rate (1 minor unit of `from` = rateMicro / 1e6 minor units of `to`) and audits
 * it. Applies to wagers in windows committed after it; each ledger row keeps the rate it used.
 */
export async function putFxRate(
  db: Queryable,
  from: string,
  to: string,
  rateMicro: number,
  actor: string,
): Promise<FxRate> {
  if (!isValidFxRateMicro(rateMicro))
    throw new AppError(
      'INVALID_INPUT',
      `rateMicro must be a whole number from 1 to ${MAX_FX_RATE_MICRO}, got ${JSON.stringify(rateMicro)}`,
    );
  const { rows } = await db.query<{ old: string | null; rate_micro: string; updated_at: Date }>(
    `WITH old AS (SELECT rate_micro FROM jackpot.fx_rates WHERE from_currency = $1 AND to_currency = $2),
          up AS (INSERT INTO jackpot.fx_rates (from_currency, to_currency, rate_micro) VALUES ($1, $2, $3)
                 ON CONFLICT (from_currency, to_currency) DO UPDATE SET rate_micro = EXCLUDED.rate_micro, updated_at = now()
                 RETURNING rate_micro, updated_at),
          audit AS (INSERT INTO jackpot.config_audit (actor, action, subject, old_value, new_value)
                    SELECT $4, 'fx.set', 'fx:' || $1 || '>' || $2, (SELECT to_jsonb(rate_micro) FROM old), to_jsonb($3::bigint))
     SELECT (SELECT rate_micro::text FROM old) AS old, rate_micro::text, updated_at FROM up`,
    [from, to, rateMicro, actor],
  );
  const r = rows[0];
  if (r === undefined) throw new Error('fx rate not stored');
  return { from, to, rateMicro: Number(r.rate_micro), updatedAt: r.updated_at.toISOString() };
}
