-- What analysts query most, named once (docs/analysts.md has the queries and their plans):
--
--   jackpot.pool_hourly(from_at, to_at [, pool])
--                                        per UTC hour, pool and game in [from_at, to_at): wagers,
--                                        amounts wagered, contributions, overflow and reserve
--                                        shares from the ledger, and the wins; days already
--                                        dropped from the ledger come from ledger_rollups, one row
--                                        per pool and day (game unknown, archived = true); `pool`
--                                        (default: all) keeps one pool before anything is grouped
--   jackpot.wins_recent                  the last 30 days of wins with their jackpot, tier and
--                                        currency, newest first
--
-- pool_hourly is a function, not a view: the ledger is cut into daily partitions by occurred_at,
-- and only a condition on occurred_at itself lets Postgres skip the days outside the range; a
-- view grouped by hour would be filtered on the hour after reading every day ever kept. It is a
-- single SELECT in LANGUAGE sql, STABLE, so the planner inlines it into the caller's query and
-- prunes the partitions with the bounds given.
--
-- It computes from the ledger when asked: a rollup table kept current by the aggregator as it
-- writes (the issue's ask) is not done; it would add a write to the aggregator's window.
-- No index is added to the ledger either: every index there is paid on each COPY of the
-- aggregator's hot path; a range reads the day partitions it touches in full.

CREATE FUNCTION jackpot.pool_hourly(from_at timestamptz, to_at timestamptz, pool text DEFAULT NULL)
RETURNS TABLE (
  hour                timestamptz,
  pool_id             text,
  game_id             text,
  wagers              bigint,
  wagered_minor       numeric,
  contribution_micro  numeric,
  overflow_micro      numeric,
  reserve_micro       numeric,
  wins                bigint,
  won_minor           numeric,
  archived            boolean
)
LANGUAGE sql
STABLE
AS $$
  -- UTC hours whatever the session's time zone (a zone at +05:30 would otherwise cut hours at :30).
  WITH ledger AS (
    SELECT date_trunc('hour', c.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, c.pool_id, c.game_id,
           count(*) AS wagers, sum(c.wager_minor) AS wagered_minor, sum(c.contribution_micro) AS contribution_micro,
           sum(c.overflow_micro) AS overflow_micro, sum(c.reserve_micro) AS reserve_micro
    FROM jackpot.contributions c
    WHERE c.occurred_at >= from_at AND c.occurred_at < to_at AND (pool IS NULL OR c.pool_id = pool)
    GROUP BY 1, 2, 3
  ), won AS (
    SELECT date_trunc('hour', w.won_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, w.pool_id, w.game_id,
           count(*) AS wins, sum(w.amount_minor) AS won_minor
    FROM jackpot.wins w
    WHERE w.won_at >= from_at AND w.won_at < to_at AND (pool IS NULL OR w.pool_id = pool)
    GROUP BY 1, 2, 3
  )
  SELECT coalesce(l.hour, w.hour), coalesce(l.pool_id, w.pool_id), coalesce(l.game_id, w.game_id),
         coalesce(l.wagers, 0), coalesce(l.wagered_minor, 0), coalesce(l.contribution_micro, 0),
         coalesce(l.overflow_micro, 0), coalesce(l.reserve_micro, 0),
         coalesce(w.wins, 0), coalesce(w.won_minor, 0), false
  FROM ledger l FULL JOIN won w ON w.hour = l.hour AND w.pool_id = l.pool_id AND w.game_id = l.game_id
  UNION ALL
  -- A dropped ledger day, summed per pool and cycle when it was dropped (0007): its hours and
  -- games are gone, and so is the amount wagered. Its wins are still in jackpot.wins (above).
  SELECT r.day::timestamp AT TIME ZONE 'UTC', r.pool_id, NULL, sum(r.rows)::bigint, NULL,
         sum(r.contribution_micro), sum(r.overflow_micro), sum(r.reserve_micro), 0, 0, true
  FROM jackpot.ledger_rollups r
  WHERE r.day >= (from_at AT TIME ZONE 'UTC')::date AND r.day < (to_at AT TIME ZONE 'UTC')::date
        + CASE WHEN (to_at AT TIME ZONE 'UTC')::time = '00:00' THEN 0 ELSE 1 END
        AND (pool IS NULL OR r.pool_id = pool)
  GROUP BY r.day, r.pool_id
$$;
REVOKE ALL ON FUNCTION jackpot.pool_hourly(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jackpot.pool_hourly(timestamptz, timestamptz, text) TO jackpot_analyst, jackpot_service;

CREATE VIEW jackpot.wins_recent AS
  SELECT w.won_at, w.win_id, w.pool_id, p.jackpot_id, p.tier, j.currency, w.cycle, w.kind, w.amount_minor,
         w.game_id, w.player_id, w.claim_id
  FROM jackpot.wins w
  JOIN jackpot.pools p ON p.pool_id = w.pool_id
  JOIN jackpot.jackpots j ON j.jackpot_id = p.jackpot_id
  WHERE w.won_at >= now() - interval '30 days'
  ORDER BY w.won_at DESC;
GRANT SELECT ON jackpot.wins_recent TO jackpot_analyst, jackpot_service;

-- wins_recent and pool_hourly read wins by time; one row a cycle, so this costs the writers nothing
-- measurable.
CREATE INDEX wins_won_at_idx ON jackpot.wins (won_at);
