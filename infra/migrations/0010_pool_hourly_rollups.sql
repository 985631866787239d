-- The hourly rollup per pool and game, kept current by the pipeline (issue 9), and
-- jackpot.pool_hourly reading it instead of adding up the ledger when asked.
--
--   jackpot.pool_hourly_rollups   one row per UTC hour, pool and game: the ledger's wagers, amounts
--                                 wagered (in the wagers' own currencies, as pool_hourly always
--                                 summed them), contribution, overflow and reserve shares of the
--                                 wagers that occurred in that hour, and the wins won in it.
--
-- Who keeps it: the aggregator, in each window's transaction, one upsert for the window with one
-- row per (hour, pool, game) it touched (services/aggregator/src/apply-window.ts), while it holds
-- those pools' locks; every win (a claim or a mystery hit, or any other INSERT INTO jackpot.wins)
-- through the trigger below, in the win's transaction; and a row inserted by hand into the view
-- jackpot.contributions through its INSTEAD OF trigger. Its rows are only ever written under the
-- lock of their pool's pool_totals row (or by hand), so replicas never deadlock on them.
--
-- Retention does not touch it: a ledger day dropped from now on keeps its hours here (and is
-- still summed into ledger_rollups for reconcile, marked `in_hourly`); days dropped before this
-- migration exist only in ledger_rollups, and pool_hourly keeps serving them from there, marked
-- archived, as before.

CREATE TABLE jackpot.pool_hourly_rollups (
  hour                timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
  pool_id             text NOT NULL,
  game_id             text NOT NULL,
  wagers              bigint NOT NULL DEFAULT 0,
  wagered_minor       numeric(38, 0) NOT NULL DEFAULT 0,
  contribution_micro  numeric(38, 0) NOT NULL DEFAULT 0,
  overflow_micro      numeric(38, 0) NOT NULL DEFAULT 0,
  reserve_micro       numeric(38, 0) NOT NULL DEFAULT 0,
  wins                bigint NOT NULL DEFAULT 0,
  won_minor           numeric(38, 0) NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, pool_id, game_id)
);
-- The services write it (the default privileges of 0005 give them SELECT, INSERT, UPDATE).
GRANT SELECT ON jackpot.pool_hourly_rollups TO jackpot_analyst;

-- Backfill from the ledger and the wins as they are.
INSERT INTO jackpot.pool_hourly_rollups (hour, pool_id, game_id, wagers, wagered_minor, contribution_micro, overflow_micro, reserve_micro)
SELECT date_trunc('hour', l.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', s.pool_id, l.game_id,
       count(*), sum(l.wager_minor), sum(s.contribution_micro), sum(s.overflow_micro), sum(s.reserve_micro)
FROM jackpot.ledger l
CROSS JOIN LATERAL unnest(l.pool_ids, l.contribution_micro, l.overflow_micro, l.reserve_micro)
  AS s(pool_id, contribution_micro, overflow_micro, reserve_micro)
GROUP BY 1, 2, 3;
INSERT INTO jackpot.pool_hourly_rollups (hour, pool_id, game_id, wins, won_minor)
SELECT date_trunc('hour', won_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', pool_id, game_id, count(*), sum(amount_minor)
FROM jackpot.wins
GROUP BY 1, 2, 3
ON CONFLICT (hour, pool_id, game_id) DO UPDATE SET wins = excluded.wins, won_minor = excluded.won_minor;

-- Every win, whoever writes it.
CREATE FUNCTION jackpot.wins_rollup() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO jackpot.pool_hourly_rollups (hour, pool_id, game_id, wins, won_minor)
  VALUES (date_trunc('hour', NEW.won_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', NEW.pool_id, NEW.game_id, 1, NEW.amount_minor)
  ON CONFLICT (hour, pool_id, game_id) DO UPDATE
    SET wins = pool_hourly_rollups.wins + 1, won_minor = pool_hourly_rollups.won_minor + excluded.won_minor;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION jackpot.wins_rollup() FROM PUBLIC;
CREATE TRIGGER wins_rollup AFTER INSERT ON jackpot.wins FOR EACH ROW EXECUTE FUNCTION jackpot.wins_rollup();

-- A ledger row written by hand through the view (0009) counts too.
CREATE OR REPLACE FUNCTION jackpot.contributions_insert() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.pool_id IS NULL OR NEW.cycle IS NULL OR NEW.contribution_micro IS NULL OR NEW.reserve_micro IS NULL
     OR NEW.overflow_micro IS NULL THEN
    RAISE EXCEPTION 'null value in a ledger share of event %', NEW.event_id USING ERRCODE = 'not_null_violation';
  END IF;
  INSERT INTO jackpot.ledger (event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro, applied_at,
                              pool_ids, cycles, contribution_micro, overflow_micro, reserve_micro)
  VALUES (NEW.event_id, NEW.occurred_at, NEW.game_id, NEW.player_id, NEW.wager_currency, NEW.wager_minor, NEW.fx_rate_micro,
          NEW.applied_at, ARRAY[NEW.pool_id], ARRAY[NEW.cycle], ARRAY[NEW.contribution_micro], ARRAY[NEW.overflow_micro],
          ARRAY[NEW.reserve_micro]);
  INSERT INTO jackpot.pool_hourly_rollups (hour, pool_id, game_id, wagers, wagered_minor, contribution_micro, overflow_micro, reserve_micro)
  VALUES (date_trunc('hour', NEW.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', NEW.pool_id, NEW.game_id, 1, NEW.wager_minor,
          NEW.contribution_micro, NEW.overflow_micro, NEW.reserve_micro)
  ON CONFLICT (hour, pool_id, game_id) DO UPDATE
    SET wagers = pool_hourly_rollups.wagers + 1, wagered_minor = pool_hourly_rollups.wagered_minor + excluded.wagered_minor,
        contribution_micro = pool_hourly_rollups.contribution_micro + excluded.contribution_micro,
        overflow_micro = pool_hourly_rollups.overflow_micro + excluded.overflow_micro,
        reserve_micro = pool_hourly_rollups.reserve_micro + excluded.reserve_micro;
  RETURN NEW;
END
$$;

-- Ledger days dropped from now on are in the hourly rollups too; pool_hourly serves only the
-- others (dropped before this migration, or summed by hand) from ledger_rollups.
ALTER TABLE jackpot.ledger_rollups ADD COLUMN in_hourly boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION jackpot.drop_expired_partitions(parent text, keep_days integer) RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tab text := CASE WHEN parent = 'contributions' THEN 'ledger' ELSE parent END;
  cutoff date;
  p record;
  upper_text text;
  upper_day date;
BEGIN
  IF tab IS NULL OR tab NOT IN ('ledger', 'applied_events', 'dead_letters') THEN
    RAISE EXCEPTION 'no retention for table %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF keep_days IS NULL OR keep_days < 1 THEN
    RAISE EXCEPTION 'keep_days must be at least 1, got %', keep_days USING ERRCODE = 'invalid_parameter_value';
  END IF;
  cutoff := (now() AT TIME ZONE 'UTC')::date - keep_days;
  FOR p IN
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = ('jackpot.' || tab)::regclass
    ORDER BY c.relname
  LOOP
    CONTINUE WHEN p.bound = 'DEFAULT';
    upper_text := substring(p.bound FROM 'TO \(''([^'']+)''\)');
    CONTINUE WHEN upper_text IS NULL;
    upper_day := CASE WHEN tab = 'applied_events' THEN upper_text::date ELSE (upper_text::timestamptz AT TIME ZONE 'UTC')::date END;
    CONTINUE WHEN upper_day > cutoff;
    IF tab = 'ledger' THEN
      EXECUTE format(
        'INSERT INTO jackpot.ledger_rollups (pool_id, cycle, day, rows, contribution_micro, overflow_micro, reserve_micro, in_hourly)
         SELECT s.pool_id, s.cycle, %L::date - 1, count(*), sum(s.contribution_micro), sum(s.overflow_micro), sum(s.reserve_micro), true
         FROM jackpot.%I l
         CROSS JOIN LATERAL unnest(l.pool_ids, l.cycles, l.contribution_micro, l.overflow_micro, l.reserve_micro)
           AS s(pool_id, cycle, contribution_micro, overflow_micro, reserve_micro)
         GROUP BY s.pool_id, s.cycle
         ON CONFLICT (pool_id, cycle, day) DO UPDATE SET rows = ledger_rollups.rows + excluded.rows,
           contribution_micro = ledger_rollups.contribution_micro + excluded.contribution_micro,
           overflow_micro = ledger_rollups.overflow_micro + excluded.overflow_micro,
           reserve_micro = ledger_rollups.reserve_micro + excluded.reserve_micro',
        upper_day, p.relname);
    END IF;
    EXECUTE format('ALTER TABLE jackpot.%I DETACH PARTITION jackpot.%I', tab, p.relname);
    EXECUTE format('DROP TABLE jackpot.%I', p.relname);
    RETURN NEXT p.relname;
  END LOOP;
END
$$;

-- Same signature and result columns as 0008's. A UTC hour is counted whole when it overlaps
-- [from_at, to_at) (0008 counted the rows inside the range; the same for whole hours, which is
-- what analysts ask for); a day only in ledger_rollups is counted whole when it overlaps, as before.
CREATE OR REPLACE FUNCTION jackpot.pool_hourly(from_at timestamptz, to_at timestamptz, pool text DEFAULT NULL)
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
  SELECT h.hour, h.pool_id, h.game_id, h.wagers, h.wagered_minor, h.contribution_micro, h.overflow_micro,
         h.reserve_micro, h.wins, h.won_minor, false
  FROM jackpot.pool_hourly_rollups h
  WHERE h.hour > from_at - interval '1 hour' AND h.hour < to_at AND (pool IS NULL OR h.pool_id = pool)
  UNION ALL
  -- A ledger day dropped before migration 0010, summed per pool and cycle when it was dropped
  -- (0007): its hours and games are gone, and so is the amount wagered. Its wins are above.
  SELECT r.day::timestamp AT TIME ZONE 'UTC', r.pool_id, NULL, sum(r.rows)::bigint, NULL,
         sum(r.contribution_micro), sum(r.overflow_micro), sum(r.reserve_micro), 0, 0, true
  FROM jackpot.ledger_rollups r
  WHERE NOT r.in_hourly
        AND r.day >= (from_at AT TIME ZONE 'UTC')::date AND r.day < (to_at AT TIME ZONE 'UTC')::date
        + CASE WHEN (to_at AT TIME ZONE 'UTC')::time = '00:00' THEN 0 ELSE 1 END
        AND (pool IS NULL OR r.pool_id = pool)
  GROUP BY r.day, r.pool_id
$$;
