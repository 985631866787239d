-- Least-privilege roles. The migrating role (the schema's owner) keeps ownership and DDL; the
-- services and analysts connect with LOGIN roles that an operator creates as members of these:
--
--   jackpot_service  what the gateway, aggregators, projector and operator command line do: read
--                    and write the schema's rows, never DDL, never TRUNCATE; rows are deleted only
--                    where the code deletes (unlinked games, rebased positions); the append-only tables
--                    (ledger, event-id claims, triggers, top-ups, audit) take no UPDATE.
--   jackpot_analyst  the contract's read-only role: the documented tables and the other non-secret
--                    ones, but not jackpot.pool_triggers (the hidden mystery triggers) nor
--                    jackpot.api_keys (key hashes and names).
--
-- Both are NOLOGIN group roles. Roles belong to the whole cluster while grants belong to one
-- database, so the roles are created only when missing (tests migrate many databases of one
-- cluster side by side) and everything else is granted here, per database. Running this needs
-- CREATEROLE (or an operator who created both roles beforehand).

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['jackpot_service', 'jackpot_analyst'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        -- The migration of another database created it a moment ago (the unique index on role
        -- names made us wait for that transaction, then refused ours): it exists, go on.
        NULL;
      END;
    END IF;
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA jackpot TO jackpot_service, jackpot_analyst;

-- The services: every table of the schema (including any an earlier migration added), then less
-- on the append-only ones, whose rows are never rewritten once committed.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA jackpot TO jackpot_service;
REVOKE UPDATE ON jackpot.contributions, jackpot.applied_events, jackpot.pool_triggers, jackpot.topups,
  jackpot.config_audit FROM jackpot_service;
-- The only rows the code deletes: a jackpot's game links when putJackpot replaces them, and the
-- positions of partitions that no longer exist when an operator rebases a group's positions.
GRANT DELETE ON jackpot.games, jackpot.consumer_offsets TO jackpot_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA jackpot TO jackpot_service;

-- Tables and sequences that later migrations create (run by this same migrating role) come with
-- the services' grants. Not the analyst's: a new table is readable by analysts only when its
-- migration says so, so a new secret can never leak by default.
ALTER DEFAULT PRIVILEGES IN SCHEMA jackpot GRANT SELECT, INSERT, UPDATE ON TABLES TO jackpot_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA jackpot GRANT USAGE, SELECT ON SEQUENCES TO jackpot_service;

-- The analysts: the contract's four tables and what explains them. Reads of the ledger go through
-- the partitioned parent jackpot.contributions (its grant covers every partition read through it);
-- the daily partitions themselves grant nothing.
GRANT SELECT ON jackpot.pool_totals, jackpot.contributions, jackpot.wins, jackpot.dead_letters,
  jackpot.jackpots, jackpot.pools, jackpot.games, jackpot.pool_cycles, jackpot.topups, jackpot.fx_rates,
  jackpot.config_audit TO jackpot_analyst;

-- Ledger partitions. Creating a partition needs ownership of jackpot.contributions, which the
-- services must not have (an owner can drop or rewrite the ledger). This function, owned by the
-- migrating role, creates exactly one daily partition, for a day near today, and nothing else; the
-- services may only call it. Its name and bounds are computed here, not passed in.
CREATE FUNCTION jackpot.create_ledger_partition(day date) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  part text := 'contributions_' || to_char(day, 'YYYYMMDD');
BEGIN
  -- 31 days: the aggregator asks for yesterday to a week ahead; a caller asking for more is
  -- refused instead of filling the catalog with thousands of tables.
  IF day IS NULL OR day < today - 31 OR day > today + 31 THEN
    RAISE EXCEPTION 'ledger partition day % is not within 31 days of today (%)', day, today
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF to_regclass('jackpot.' || part) IS NOT NULL THEN
    RETURN part;
  END IF;
  -- Bounds as timestamptz literals with an explicit UTC offset: a bare date would be read in the
  -- session's time zone.
  EXECUTE format('CREATE TABLE IF NOT EXISTS jackpot.%I PARTITION OF jackpot.contributions FOR VALUES FROM (%L) TO (%L)',
                 part, to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
  -- The default privileges above just granted the services this partition's rows; they write and
  -- read through the parent, whose grants Postgres checks instead, so take them back.
  EXECUTE format('REVOKE ALL ON jackpot.%I FROM jackpot_service', part);
  RETURN part;
END
$$;
REVOKE ALL ON FUNCTION jackpot.create_ledger_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jackpot.create_ledger_partition(date) TO jackpot_service;

-- Partitions that exist already (the default one, and days the aggregator created before this
-- migration): the same, access through the parent only.
DO $$
DECLARE
  p regclass;
BEGIN
  FOR p IN SELECT inhrelid::regclass FROM pg_catalog.pg_inherits WHERE inhparent = 'jackpot.contributions'::regclass LOOP
    EXECUTE format('REVOKE ALL ON %s FROM jackpot_service, jackpot_analyst', p);
  END LOOP;
END $$;
