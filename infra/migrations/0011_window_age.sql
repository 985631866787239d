-- A window transaction may not commit more than 50 minutes after it started: checked at COMMIT,
-- so that the duplicate check is exact across midnight between Sunday and Monday UTC.
--
-- Why: jackpot.applied_events is partitioned by the week a claim's transaction started in, and a
-- key is unique only within a partition. In the first hour of a week a claim also takes its ids in
-- the week before (services/aggregator/src/sql.ts, claimEvents; CLAIM_GRACE_MS in apply-window.ts),
-- so a late Sunday claim and a Monday claim of one id collide on a key as long as the Monday claim
-- starts within that hour. A Monday claim made later looks the id up in the week before, and sees
-- the Sunday claim only if it has committed by then. That holds when no window transaction commits
-- more than an hour after it started; this trigger makes it hold, rather than leaving it to how
-- long windows usually take (milliseconds to seconds).
--
-- How: a deferred constraint trigger on the window's positions (every window that claims ids
-- moves the positions of its partitions, in the same transaction: apply-window.ts step 4) runs at
-- COMMIT and refuses a transaction older than the limit with SQLSTATE 40001 (serialization
-- failure): the transaction rolls back, its claims with it, and the aggregator retries the window
-- in a new transaction (shared/src/db.ts, retryDb). It fires for each position row a transaction
-- updated (at most one per partition): measured with six rows, 8-60 µs of Postgres CPU a
-- transaction (214-264 against 199-207 µs), against milliseconds for a window's statements.
--
-- The limit is 50 minutes, ten under the claim's hour, for the moment between the check and the
-- commit becoming visible. A session may make it shorter (`SET jackpot.window_max_age = '1s'`,
-- which the tests use), never longer.

CREATE FUNCTION jackpot.window_max_age() RETURNS interval
LANGUAGE sql STABLE AS $$
  SELECT least(interval '50 minutes',
               coalesce(nullif(current_setting('jackpot.window_max_age', true), '')::interval, interval '50 minutes'))
$$;

CREATE FUNCTION jackpot.refuse_old_window() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF clock_timestamp() - now() > jackpot.window_max_age() THEN
    RAISE EXCEPTION 'window transaction refused at commit: open for % (since %), longer than %',
      clock_timestamp() - now(), now(), jackpot.window_max_age()
      USING ERRCODE = 'serialization_failure',
            HINT = 'the duplicate check across a week boundary needs every claim committed within the hour it started in; retry the window';
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER consumer_offsets_window_age
  AFTER UPDATE ON jackpot.consumer_offsets
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION jackpot.refuse_old_window();
