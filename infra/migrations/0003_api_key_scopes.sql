-- API key scopes. A game key acts for a list of jackpots (wagers for their games, claims on their
-- pools) or for all of them; an admin key acts on the admin endpoints only and has no jackpots.
ALTER TABLE jackpot.api_keys
  ADD COLUMN all_jackpots boolean NOT NULL DEFAULT false,
  ADD COLUMN jackpot_ids  text[]  NOT NULL DEFAULT '{}';

-- Game keys created before scopes existed could act for every jackpot. They keep doing so, so a
-- running deployment keeps working after this migration; an operator narrows them by creating
-- scoped keys (`keys create --role game --jackpots ...`) and revoking these (`keys revoke`).
UPDATE jackpot.api_keys SET all_jackpots = true WHERE role = 'game';

-- From now on every new key states its scope: no default silently makes a key unscoped.
ALTER TABLE jackpot.api_keys ALTER COLUMN all_jackpots DROP DEFAULT;

ALTER TABLE jackpot.api_keys ADD CONSTRAINT api_keys_scope_check CHECK (
  CASE role
    WHEN 'admin' THEN NOT all_jackpots AND cardinality(jackpot_ids) = 0
    -- a game key is either unscoped or names at least one jackpot, never both
    ELSE all_jackpots = (cardinality(jackpot_ids) = 0)
  END
);
