-- The ledger, one row a wager instead of one a wager and pool: jackpot.ledger holds each applied
-- wager's columns once and its share of every pool of its jackpot as five parallel arrays (pool
-- ids, cycles, contribution, overflow and reserve micro-units, in the same order). Four pools a
-- wager make a quarter of the tuples and about two thirds of the bytes, and the aggregator's COPY,
-- which runs while a window holds its pool locks, shrinks with them (README, "Performance").
--
-- jackpot.contributions, the contract's ledger, is from now on a view that unnests the arrays: the
-- same columns in the same order with the same types, one row a wager and pool, as before. A
-- condition on occurred_at still prunes the ledger's daily partitions through it. An INSTEAD OF
-- INSERT trigger keeps `INSERT INTO jackpot.contributions` working (one ledger row per inserted
-- row, which the view reads the same), for tools and tests that write the ledger by hand; the
-- services write jackpot.ledger only.
--
-- Existing rows are regrouped: rows of one wager (one event id, applied in one transaction, with
-- the same wager columns) become one row; partitions keep their bounds and take the ledger's name
-- (contributions_YYYYMMDD becomes ledger_YYYYMMDD).

CREATE TABLE jackpot.ledger (
  event_id            uuid NOT NULL,
  occurred_at         timestamptz NOT NULL,
  game_id             text NOT NULL,
  player_id           text NOT NULL,
  wager_currency      char(3),
  wager_minor         bigint NOT NULL,
  fx_rate_micro       bigint,
  applied_at          timestamptz NOT NULL DEFAULT now(),
  pool_ids            text[] NOT NULL,
  cycles              integer[] NOT NULL,
  contribution_micro  bigint[] NOT NULL,
  overflow_micro      bigint[] NOT NULL,
  reserve_micro       bigint[] NOT NULL,
  -- Parallel one-dimensional arrays: unnest would pad a shorter one with NULLs.
  CHECK (array_ndims(pool_ids) = 1
         AND cardinality(cycles) = cardinality(pool_ids)
         AND cardinality(contribution_micro) = cardinality(pool_ids)
         AND cardinality(overflow_micro) = cardinality(pool_ids)
         AND cardinality(reserve_micro) = cardinality(pool_ids))
) PARTITION BY RANGE (occurred_at);

-- The same partitions as the old ledger, with the same bounds.
DO $$
DECLARE
  p record;
  part text;
BEGIN
  FOR p IN
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'jackpot.contributions'::regclass
  LOOP
    part := CASE WHEN p.relname LIKE 'contributions\_%' THEN 'ledger' || substr(p.relname, length('contributions') + 1)
                 ELSE 'ledger_' || p.relname END;
    EXECUTE format('CREATE TABLE jackpot.%I PARTITION OF jackpot.ledger %s', part, p.bound);
  END LOOP;
  IF to_regclass('jackpot.ledger_default') IS NULL THEN
    CREATE TABLE jackpot.ledger_default PARTITION OF jackpot.ledger DEFAULT;
  END IF;
END $$;

INSERT INTO jackpot.ledger (event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro, applied_at,
                            pool_ids, cycles, contribution_micro, overflow_micro, reserve_micro)
SELECT event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro, applied_at,
       array_agg(pool_id ORDER BY pool_id, cycle), array_agg(cycle ORDER BY pool_id, cycle),
       array_agg(contribution_micro ORDER BY pool_id, cycle), array_agg(overflow_micro ORDER BY pool_id, cycle),
       array_agg(reserve_micro ORDER BY pool_id, cycle)
FROM jackpot.contributions
GROUP BY event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro, applied_at;

DROP TABLE jackpot.contributions;

-- Column for column the table it replaces (0001, 0002): `SELECT *` reads the same.
CREATE VIEW jackpot.contributions AS
  SELECT l.event_id, s.pool_id, s.cycle, l.wager_minor, s.contribution_micro, s.reserve_micro, l.occurred_at,
         l.game_id, l.player_id, l.applied_at, s.overflow_micro, l.wager_currency, l.fx_rate_micro
  FROM jackpot.ledger l
  CROSS JOIN LATERAL unnest(l.pool_ids, l.cycles, l.contribution_micro, l.overflow_micro, l.reserve_micro)
    AS s(pool_id, cycle, contribution_micro, overflow_micro, reserve_micro);
ALTER VIEW jackpot.contributions ALTER COLUMN reserve_micro SET DEFAULT 0;
ALTER VIEW jackpot.contributions ALTER COLUMN overflow_micro SET DEFAULT 0;
ALTER VIEW jackpot.contributions ALTER COLUMN applied_at SET DEFAULT now();

CREATE FUNCTION jackpot.contributions_insert() RETURNS trigger
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
  RETURN NEW;
END
$$;
CREATE TRIGGER contributions_insert INSTEAD OF INSERT ON jackpot.contributions
  FOR EACH ROW EXECUTE FUNCTION jackpot.contributions_insert();

-- Grants as 0005 gave the old table: the services insert and read the ledger and never rewrite
-- it (the default privileges gave them UPDATE on both); they read the view and write only the
-- table. Analysts read both. Partitions: access through the parent only.
REVOKE UPDATE ON jackpot.ledger FROM jackpot_service;
REVOKE INSERT, UPDATE ON jackpot.contributions FROM jackpot_service;
GRANT SELECT ON jackpot.ledger, jackpot.contributions TO jackpot_analyst;
DO $$
DECLARE
  p regclass;
BEGIN
  FOR p IN SELECT inhrelid::regclass FROM pg_catalog.pg_inherits WHERE inhparent = 'jackpot.ledger'::regclass LOOP
    EXECUTE format('REVOKE ALL ON %s FROM jackpot_service, jackpot_analyst', p);
  END LOOP;
END $$;

-- Partitions and retention (0007) for the ledger under its new name. 'contributions' is still
-- accepted and means the ledger.
CREATE OR REPLACE FUNCTION jackpot.create_day_partition(parent text, day date) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  tab text := CASE WHEN parent = 'contributions' THEN 'ledger' ELSE parent END;
  first date := CASE WHEN tab = 'applied_events' THEN date_trunc('week', day)::date ELSE day END;
  part text := tab || '_' || to_char(first, 'YYYYMMDD');
BEGIN
  IF tab IS NULL OR tab NOT IN ('ledger', 'applied_events', 'dead_letters') THEN
    RAISE EXCEPTION 'no daily partitions for table %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF day IS NULL OR day < today - 31 OR day > today + 31 THEN
    RAISE EXCEPTION 'partition day % is not within 31 days of today (%)', day, today USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF to_regclass('jackpot.' || part) IS NOT NULL THEN
    RETURN part;
  END IF;
  IF tab = 'applied_events' THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS jackpot.%I PARTITION OF jackpot.%I FOR VALUES FROM (%L) TO (%L)', part, tab, first, first + 7);
  ELSE
    -- Timestamp bounds with an explicit UTC offset: a bare date would be read in the session's zone.
    EXECUTE format('CREATE TABLE IF NOT EXISTS jackpot.%I PARTITION OF jackpot.%I FOR VALUES FROM (%L) TO (%L)', part, tab,
                   to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
  END IF;
  -- Access through the parent only (see 0005).
  EXECUTE format('REVOKE ALL ON jackpot.%I FROM jackpot_service, jackpot_analyst', part);
  RETURN part;
EXCEPTION
  -- 42P17: the day is inside a legacy partition (up to the day of migration 0007), which holds it.
  WHEN invalid_object_definition THEN RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION jackpot.create_ledger_partition(day date) RETURNS text
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT jackpot.create_day_partition('ledger', day) $$;

-- As 0007's, with the ledger's dropped days summed over the unnested shares (the same sums and
-- row counts, one a wager and pool, as before).
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
        'INSERT INTO jackpot.ledger_rollups (pool_id, cycle, day, rows, contribution_micro, overflow_micro, reserve_micro)
         SELECT s.pool_id, s.cycle, %L::date - 1, count(*), sum(s.contribution_micro), sum(s.overflow_micro), sum(s.reserve_micro)
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
