-- The jackpot schema: configuration, running pool state, the ledger, dead letters, offsets, keys.
-- Money columns: a ledger row holds at most 1e9 minor × 1e6 ppm = 1e15 micro-units (fits bigint);
-- running pool amounts are sums of unbounded many rows, so they are numeric(38,0): exact and
-- never overflowing the way a bigint sum could after ~9,000 maximal wagers at 100 %.

CREATE SCHEMA IF NOT EXISTS jackpot;

-- Configuration as the operator wrote it. A running pool copies its parameters into pool_totals at
-- the start of each cycle, so a change applies from the next cycle.
CREATE TABLE jackpot.jackpots (
  jackpot_id  text PRIMARY KEY CHECK (jackpot_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jackpot.pools (
  pool_id            text PRIMARY KEY,
  jackpot_id         text NOT NULL REFERENCES jackpot.jackpots ON DELETE CASCADE,
  tier               text NOT NULL CHECK (tier ~ '^[A-Za-z0-9._-]{1,32}$'),
  seed_minor         bigint NOT NULL CHECK (seed_minor >= 0),
  contribution_ppm   integer NOT NULL CHECK (contribution_ppm BETWEEN 0 AND 1000000),
  reserve_ppm        integer NOT NULL DEFAULT 0 CHECK (reserve_ppm BETWEEN 0 AND 1000000),
  ceiling_minor      bigint CHECK (ceiling_minor > 0),
  overflow           text CHECK (overflow IN ('reserve', 'next-cycle')),
  must_hit_by_minor  bigint CHECK (must_hit_by_minor > 0),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (jackpot_id, tier),
  CHECK (pool_id = jackpot_id || ':' || tier),
  CHECK (contribution_ppm + reserve_ppm <= 1000000)
);

CREATE TABLE jackpot.games (
  game_id     text PRIMARY KEY CHECK (game_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
  jackpot_id  text NOT NULL REFERENCES jackpot.jackpots ON DELETE CASCADE
);
CREATE INDEX games_jackpot_idx ON jackpot.games (jackpot_id);

-- The running state of each pool, one row a pool. The first columns are the read API's.
-- amount_micro = seed_micro + carried_in_micro + cycle_contribution_micro at every commit.
CREATE TABLE jackpot.pool_totals (
  pool_id                   text PRIMARY KEY REFERENCES jackpot.pools ON DELETE CASCADE,
  jackpot_id                text NOT NULL,
  tier                      text NOT NULL,
  currency                  char(3) NOT NULL,
  amount_minor              bigint GENERATED ALWAYS AS (floor(amount_micro / 1000000)::bigint) STORED,
  cycle                     integer NOT NULL DEFAULT 1 CHECK (cycle >= 1),
  version                   bigint NOT NULL DEFAULT 1,
  updated_at                timestamptz NOT NULL DEFAULT now(),
  amount_micro              numeric(38, 0) NOT NULL CHECK (amount_micro >= 0),
  -- parameters frozen for the current cycle
  contribution_ppm          integer NOT NULL,
  reserve_ppm               integer NOT NULL DEFAULT 0,
  -- the parts of the current cycle's amount
  seed_micro                numeric(38, 0) NOT NULL,
  carried_in_micro          numeric(38, 0) NOT NULL DEFAULT 0,
  cycle_contribution_micro  numeric(38, 0) NOT NULL DEFAULT 0,
  cycle_wagers              bigint NOT NULL DEFAULT 0,
  cycle_started_at          timestamptz NOT NULL DEFAULT now(),
  -- hidden share that funds the next seed
  reserve_micro             numeric(38, 0) NOT NULL DEFAULT 0,
  -- lifetime meters
  wagers_total              bigint NOT NULL DEFAULT 0,
  wagered_minor_total       numeric(38, 0) NOT NULL DEFAULT 0,
  contribution_micro_total  numeric(38, 0) NOT NULL DEFAULT 0,
  reserve_micro_total       numeric(38, 0) NOT NULL DEFAULT 0
);

-- The ledger: one row an applied wager and pool, partitioned by the wager's UTC day. Daily
-- partitions are created ahead by the aggregator; anything older than the first partition lands
-- in the default one. No unique index here: a unique index on a partitioned table must include
-- occurred_at, and a re-sent wager with another occurredAt must still count once. That check is
-- jackpot.applied_events below.
CREATE TABLE jackpot.contributions (
  event_id            uuid NOT NULL,
  pool_id             text NOT NULL,
  cycle               integer NOT NULL,
  wager_minor         bigint NOT NULL,
  contribution_micro  bigint NOT NULL,
  reserve_micro       bigint NOT NULL DEFAULT 0,
  occurred_at         timestamptz NOT NULL,
  game_id             text NOT NULL,
  player_id           text NOT NULL,
  applied_at          timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (occurred_at);
CREATE TABLE jackpot.contributions_default PARTITION OF jackpot.contributions DEFAULT;

-- Every event id ever applied, whatever its time: the duplicate check of the ledger.
CREATE TABLE jackpot.applied_events (
  event_id    uuid PRIMARY KEY,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Every rejected event with its reason and original bytes. published_at is the outbox marker for
-- the dead-letter topic: a row is written in the batch's transaction and published afterwards,
-- so a crash between the two delays the topic message but never loses it.
CREATE TABLE jackpot.dead_letters (
  id            bigserial PRIMARY KEY,
  reason        text NOT NULL,
  message       text NOT NULL,
  event_id      uuid,
  topic         text NOT NULL,
  kafka_partition integer NOT NULL,
  kafka_offset  bigint NOT NULL,
  kafka_key     bytea,
  payload       bytea NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_unpublished_idx ON jackpot.dead_letters (id) WHERE published_at IS NULL;

-- The aggregator's consumed position, written in the same transaction as the ledger. The next
-- offset to read per partition; Kafka's committed offsets are only a hint after it.
CREATE TABLE jackpot.consumer_offsets (
  group_id     text NOT NULL,
  topic        text NOT NULL,
  partition    integer NOT NULL,
  next_offset  bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- API keys, stored as SHA-256 of the key: keys are 256-bit random, so a slow hash adds nothing.
CREATE TABLE jackpot.api_keys (
  key_id      text PRIMARY KEY,
  name        text NOT NULL,
  role        text NOT NULL CHECK (role IN ('game', 'admin')),
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
