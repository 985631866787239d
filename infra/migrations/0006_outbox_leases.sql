-- Outbox relays claim rows with a short lease instead of a row lock held across the Kafka send: a
-- lock lives in an open transaction, i.e. a database connection kept for as long as Kafka takes,
-- and during a Kafka outage those connections are the ones wins need. A relay sets the lease in
-- one autocommit statement, sends, then sets published_at; other relays skip rows whose lease has
-- not ended, so two processes relaying at once still send each row once. A relay that dies with a
-- lease leaves it to expire, and the row goes out again (at least once, as before).
-- Nullable, no default: adding these is a catalog change, no table rewrite.
ALTER TABLE jackpot.dead_letters ADD COLUMN relay_lease_until timestamptz;
ALTER TABLE jackpot.wins ADD COLUMN relay_lease_until timestamptz;
