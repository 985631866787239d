-- The jackpot lifecycle: cycles, wins, the reserve and top-ups, ceilings and overflow, mystery
-- triggers, currency conversion and the configuration audit trail.

-- The running cycle's frozen parameters and meters, beside those of 0001.
ALTER TABLE jackpot.pool_totals
  ADD COLUMN ceiling_micro        numeric(38, 0),
  ADD COLUMN overflow             text CHECK (overflow IN ('reserve', 'next-cycle')),
  ADD COLUMN must_hit_by_micro    numeric(38, 0),
  -- overflow held for the next cycle (policy next-cycle); part of what the pool holds
  ADD COLUMN next_carry_micro     numeric(38, 0) NOT NULL DEFAULT 0,
  ADD COLUMN overflow_micro_total numeric(38, 0) NOT NULL DEFAULT 0,
  ADD COLUMN topup_micro_total    numeric(38, 0) NOT NULL DEFAULT 0,
  ADD COLUMN won_micro_total      numeric(38, 0) NOT NULL DEFAULT 0,
  ADD COLUMN hits                 bigint NOT NULL DEFAULT 0;

-- Every cycle of every pool, opened at its start and closed by its win. For the closed ones:
-- seed + carried_in + contribution = payout + carried_out, to the micro-unit.
CREATE TABLE jackpot.pool_cycles (
  pool_id            text NOT NULL REFERENCES jackpot.pools ON DELETE CASCADE,
  cycle              integer NOT NULL,
  seed_micro         numeric(38, 0) NOT NULL,
  carried_in_micro   numeric(38, 0) NOT NULL DEFAULT 0,
  contribution_ppm   integer NOT NULL,
  reserve_ppm        integer NOT NULL,
  ceiling_micro      numeric(38, 0),
  overflow           text,
  must_hit_by_micro  numeric(38, 0),
  started_at         timestamptz NOT NULL DEFAULT now(),
  -- set when the cycle is won
  contribution_micro numeric(38, 0),
  payout_micro       numeric(38, 0),
  carried_out_micro  numeric(38, 0),
  win_id             uuid,
  ended_at           timestamptz,
  PRIMARY KEY (pool_id, cycle)
);

-- Mystery triggers, apart from everything an analyst or API reads: no view or endpoint selects
-- from this table. Drawn uniformly in whole minor units between seed and must-hit-by with a
-- cryptographically secure generator when the cycle starts.
CREATE TABLE jackpot.pool_triggers (
  pool_id        text NOT NULL REFERENCES jackpot.pools ON DELETE CASCADE,
  cycle          integer NOT NULL,
  trigger_micro  numeric(38, 0) NOT NULL,
  PRIMARY KEY (pool_id, cycle)
);

-- Every payout. claim_id makes a claim idempotent; published_at is the awards outbox marker.
CREATE TABLE jackpot.wins (
  win_id        uuid PRIMARY KEY,
  claim_id      text UNIQUE,
  pool_id       text NOT NULL REFERENCES jackpot.pools,
  cycle         integer NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('claim', 'mystery')),
  amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
  game_id       text NOT NULL,
  player_id     text NOT NULL,
  event_id      uuid,
  won_at        timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  UNIQUE (pool_id, cycle)
);
CREATE INDEX wins_unpublished_idx ON jackpot.wins (won_at) WHERE published_at IS NULL;

-- Money the operator put in: the first seed of a pool, and any seed the reserve could not fund.
CREATE TABLE jackpot.topups (
  id            bigserial PRIMARY KEY,
  pool_id       text NOT NULL REFERENCES jackpot.pools ON DELETE CASCADE,
  cycle         integer NOT NULL,
  amount_micro  numeric(38, 0) NOT NULL CHECK (amount_micro > 0),
  reason        text NOT NULL CHECK (reason IN ('initial-seed', 'reseed')),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Conversion of a wager's currency into its jackpot's: 1 minor unit of `from_currency` is worth
-- rate_micro / 1,000,000 minor units of `to_currency`. The rate used is stored on each ledger row.
CREATE TABLE jackpot.fx_rates (
  from_currency  char(3) NOT NULL CHECK (from_currency ~ '^[A-Z]{3}$'),
  to_currency    char(3) NOT NULL CHECK (to_currency ~ '^[A-Z]{3}$'),
  rate_micro     bigint NOT NULL CHECK (rate_micro > 0),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (from_currency, to_currency),
  CHECK (from_currency <> to_currency)
);

ALTER TABLE jackpot.contributions
  ADD COLUMN overflow_micro  bigint NOT NULL DEFAULT 0,
  ADD COLUMN wager_currency  char(3),
  ADD COLUMN fx_rate_micro   bigint;

-- Who changed what and when: every configuration change, with the whole before and after.
CREATE TABLE jackpot.config_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  subject     text NOT NULL,
  old_value   jsonb,
  new_value   jsonb
);
CREATE INDEX config_audit_subject_idx ON jackpot.config_audit (subject, at);

-- Pools created before this migration: open their first cycle record and book their seed.
INSERT INTO jackpot.pool_cycles (pool_id, cycle, seed_micro, carried_in_micro, contribution_ppm, reserve_ppm, started_at)
SELECT pool_id, cycle, seed_micro, carried_in_micro, contribution_ppm, reserve_ppm, cycle_started_at FROM jackpot.pool_totals;
INSERT INTO jackpot.topups (pool_id, cycle, amount_micro, reason)
SELECT pool_id, 1, seed_micro, 'initial-seed' FROM jackpot.pool_totals WHERE cycle = 1 AND seed_micro > 0;
UPDATE jackpot.pool_totals SET topup_micro_total = seed_micro WHERE cycle = 1;
