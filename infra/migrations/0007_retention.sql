-- Retention without DELETE: the tables that grow with traffic are cut into daily partitions, and a
-- day past its retention is dropped whole (a catalog change, no row-by-row delete).
--   jackpot.applied_events  (the duplicate check)  by claimed_week, the UTC week (from Monday) the id
--                                                  was claimed in: weekly, because a claim must look
--                                                  each id up in every partition kept (a unique key
--                                                  is only unique within a partition), and a probe
--                                                  costs ~35 ms per 10,000 ids; daily partitions of
--                                                  a 30-day window made the claim 2-3x slower
--   jackpot.dead_letters                            by received_at
--   jackpot.contributions   (the ledger, already daily by occurred_at): its dropped days are first
--                                                  summed per pool and cycle into ledger_rollups, so
--                                                  `reconcile` still proves every cycle
-- The aggregators create partitions a week ahead and drop expired ones hourly, through the two
-- SECURITY DEFINER functions below (the services own no table). How long each is kept is the
-- aggregator's configuration (README, "Retention").

-- The rows from before this migration stay, as one "legacy" partition of each table covering
-- everything up to the end of the day of the migration (days after it get partitions of their
-- own), and go as a whole when that day leaves the retention window. An empty table's legacy
-- partition ends in 2000, so a new database has partitions of its own for every day.

-- 1. The duplicate check. Legacy ids count as claimed in the week of the migration (a constant
--    default: a catalog change, no rewrite). The primary key must include the partition key;
--    claimed_week is the week's first day, so two windows claiming one id in the same week still
--    collide on it.
ALTER TABLE jackpot.applied_events RENAME TO applied_events_legacy;
ALTER TABLE jackpot.applied_events_legacy RENAME CONSTRAINT applied_events_pkey TO applied_events_legacy_pkey;
DO $$
BEGIN
  EXECUTE format('ALTER TABLE jackpot.applied_events_legacy ADD COLUMN claimed_week date NOT NULL DEFAULT %L',
                 CASE WHEN EXISTS (SELECT 1 FROM jackpot.applied_events_legacy) THEN date_trunc('week', now() AT TIME ZONE 'UTC')::date
                      ELSE DATE '2000-01-03' END);
END $$;
ALTER TABLE jackpot.applied_events_legacy DROP CONSTRAINT applied_events_legacy_pkey;
ALTER TABLE jackpot.applied_events_legacy ADD PRIMARY KEY (event_id, claimed_week);
CREATE TABLE jackpot.applied_events (
  event_id      uuid NOT NULL,
  claimed_week  date NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, claimed_week)
) PARTITION BY RANGE (claimed_week);
DO $$
BEGIN
  EXECUTE format('ALTER TABLE jackpot.applied_events ATTACH PARTITION jackpot.applied_events_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                 (SELECT coalesce(max(claimed_week), DATE '2000-01-03') + 7 FROM jackpot.applied_events_legacy));
END $$;
-- A day whose partition is missing must not fail windows (the aggregator would take it for bad
-- data); the default catches it and is never dropped.
CREATE TABLE jackpot.applied_events_default PARTITION OF jackpot.applied_events DEFAULT;
REVOKE UPDATE ON jackpot.applied_events FROM jackpot_service;

-- 2. Dead letters. The sequence moves to the new parent, or dropping the legacy partition would
--    drop it. The unique key (one dead letter per Kafka message) now includes the day.
ALTER TABLE jackpot.dead_letters RENAME TO dead_letters_legacy;
ALTER TABLE jackpot.dead_letters_legacy RENAME CONSTRAINT dead_letters_pkey TO dead_letters_legacy_pkey;
ALTER TABLE jackpot.dead_letters_legacy DROP CONSTRAINT dead_letters_legacy_pkey;
ALTER TABLE jackpot.dead_letters_legacy ADD PRIMARY KEY (id, received_at);
ALTER TABLE jackpot.dead_letters_legacy DROP CONSTRAINT dead_letters_topic_kafka_partition_kafka_offset_key;
ALTER TABLE jackpot.dead_letters_legacy ADD UNIQUE (topic, kafka_partition, kafka_offset, received_at);
DROP INDEX jackpot.dead_letters_unpublished_idx;
CREATE TABLE jackpot.dead_letters (
  id                 bigint NOT NULL DEFAULT nextval('jackpot.dead_letters_id_seq'),
  reason             text NOT NULL,
  message            text NOT NULL,
  event_id           uuid,
  topic              text NOT NULL,
  kafka_partition    integer NOT NULL,
  kafka_offset       bigint NOT NULL,
  kafka_key          bytea,
  payload            bytea NOT NULL,
  received_at        timestamptz NOT NULL DEFAULT now(),
  published_at       timestamptz,
  relay_lease_until  timestamptz,
  PRIMARY KEY (id, received_at),
  UNIQUE (topic, kafka_partition, kafka_offset, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE jackpot.dead_letters_id_seq OWNED BY jackpot.dead_letters.id;
CREATE INDEX dead_letters_unpublished_idx ON jackpot.dead_letters (id) WHERE published_at IS NULL;
DO $$
BEGIN
  EXECUTE format('ALTER TABLE jackpot.dead_letters ATTACH PARTITION jackpot.dead_letters_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                 to_char((SELECT CASE WHEN count(*) = 0 THEN DATE '2000-01-01'
                                      ELSE greatest(max(received_at AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date) END + 1
                          FROM jackpot.dead_letters_legacy), 'YYYY-MM-DD') || ' 00:00:00+00');
END $$;
CREATE TABLE jackpot.dead_letters_default PARTITION OF jackpot.dead_letters DEFAULT;
GRANT SELECT ON jackpot.dead_letters TO jackpot_analyst;

-- 3. What dropped ledger days held, per pool and cycle (and day, to say what was archived).
CREATE TABLE jackpot.ledger_rollups (
  pool_id             text NOT NULL,
  cycle               integer NOT NULL,
  day                 date NOT NULL,
  rows                bigint NOT NULL,
  contribution_micro  numeric(38, 0) NOT NULL,
  overflow_micro      numeric(38, 0) NOT NULL,
  reserve_micro       numeric(38, 0) NOT NULL,
  archived_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pool_id, cycle, day)
);
GRANT SELECT ON jackpot.ledger_rollups TO jackpot_analyst;
REVOKE INSERT, UPDATE ON jackpot.ledger_rollups FROM jackpot_service;

-- 4. The partition of one of the three tables that holds a day near today: that day's, or for
--    applied_events that week's.
CREATE FUNCTION jackpot.create_day_partition(parent text, day date) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  first date := CASE WHEN parent = 'applied_events' THEN date_trunc('week', day)::date ELSE day END;
  part text := parent || '_' || to_char(first, 'YYYYMMDD');
BEGIN
  IF parent NOT IN ('contributions', 'applied_events', 'dead_letters') THEN
    RAISE EXCEPTION 'no daily partitions for table %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF day IS NULL OR day < today - 31 OR day > today + 31 THEN
    RAISE EXCEPTION 'partition day % is not within 31 days of today (%)', day, today USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF to_regclass('jackpot.' || part) IS NOT NULL THEN
    RETURN part;
  END IF;
  IF parent = 'applied_events' THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS jackpot.%I PARTITION OF jackpot.%I FOR VALUES FROM (%L) TO (%L)', part, parent, first, first + 7);
  ELSE
    -- Timestamp bounds with an explicit UTC offset: a bare date would be read in the session's zone.
    EXECUTE format('CREATE TABLE IF NOT EXISTS jackpot.%I PARTITION OF jackpot.%I FOR VALUES FROM (%L) TO (%L)', part, parent,
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
REVOKE ALL ON FUNCTION jackpot.create_day_partition(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jackpot.create_day_partition(text, date) TO jackpot_service;

-- The ledger's partitions through the same function from now on.
CREATE OR REPLACE FUNCTION jackpot.create_ledger_partition(day date) RETURNS text
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT jackpot.create_day_partition('contributions', day) $$;

-- 5. Drops the partitions of `parent` that end at or before today - keep_days (the default one
--    never), and returns their names. Ledger days are summed into ledger_rollups in the same
--    transaction. keep_days below 1 is refused: a day still being written is never dropped.
CREATE FUNCTION jackpot.drop_expired_partitions(parent text, keep_days integer) RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cutoff date;
  p record;
  upper_text text;
  upper_day date;
BEGIN
  IF parent NOT IN ('contributions', 'applied_events', 'dead_letters') THEN
    RAISE EXCEPTION 'no retention for table %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF keep_days IS NULL OR keep_days < 1 THEN
    RAISE EXCEPTION 'keep_days must be at least 1, got %', keep_days USING ERRCODE = 'invalid_parameter_value';
  END IF;
  cutoff := (now() AT TIME ZONE 'UTC')::date - keep_days;
  FOR p IN
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = ('jackpot.' || parent)::regclass
    ORDER BY c.relname
  LOOP
    CONTINUE WHEN p.bound = 'DEFAULT';
    upper_text := substring(p.bound FROM 'TO \(''([^'']+)''\)');
    CONTINUE WHEN upper_text IS NULL;
    upper_day := CASE WHEN parent = 'applied_events' THEN upper_text::date ELSE (upper_text::timestamptz AT TIME ZONE 'UTC')::date END;
    CONTINUE WHEN upper_day > cutoff;
    IF parent = 'contributions' THEN
      EXECUTE format(
        'INSERT INTO jackpot.ledger_rollups (pool_id, cycle, day, rows, contribution_micro, overflow_micro, reserve_micro)
         SELECT pool_id, cycle, %L::date - 1, count(*), sum(contribution_micro), sum(overflow_micro), sum(reserve_micro)
         FROM jackpot.%I GROUP BY pool_id, cycle
         ON CONFLICT (pool_id, cycle, day) DO UPDATE SET rows = ledger_rollups.rows + excluded.rows,
           contribution_micro = ledger_rollups.contribution_micro + excluded.contribution_micro,
           overflow_micro = ledger_rollups.overflow_micro + excluded.overflow_micro,
           reserve_micro = ledger_rollups.reserve_micro + excluded.reserve_micro',
        upper_day, p.relname);
    END IF;
    EXECUTE format('ALTER TABLE jackpot.%I DETACH PARTITION jackpot.%I', parent, p.relname);
    EXECUTE format('DROP TABLE jackpot.%I', p.relname);
    RETURN NEXT p.relname;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION jackpot.drop_expired_partitions(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jackpot.drop_expired_partitions(text, integer) TO jackpot_service;
