/**
 * A window transaction older than `jackpot.window_max_age()` is refused at COMMIT (migration
 * 0011), on the real database: what makes the duplicate check exact across midnight between
 * Sunday and Monday UTC (a claim made more than CLAIM_GRACE_MS into a week finds a Sunday claim of
 * the same id only if that one committed within the hour it started in; see claim-weeks.test.ts
 * for the claims themselves). The limit is shortened per transaction so that the test need not
 * hold one open for 50 minutes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyWindow, CLAIM_GRACE_MS } from '../../services/aggregator/src/apply-window.js';
import { isRetryableDbError, withTransaction } from '../../shared/src/db.js';
import { ensureDayPartitions } from '../../shared/src/retention.js';
import { createTestDatabase } from '../helpers/db.js';
import { seedJackpot, wager } from '../helpers/fixtures.js';
import { positionPartitions } from '../helpers/positions.js';

const db = await createTestDatabase();
await ensureDayPartitions(db.pool, Date.now());
await seedJackpot(db.pool, {
  jackpotId: 'age',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
  games: ['age-game'],
});
const at = { groupId: 'g', topic: 't', clusterId: 'c' };
await positionPartitions(db.pool, { ...at, partitions: [0] });

const maxAgeMs = async (setting?: string): Promise<number> =>
  withTransaction(db.pool, async (c) => {
    if (setting !== undefined) await c.query(`SET LOCAL jackpot.window_max_age = '${setting}'`);
    const { rows } = await c.query<{ ms: string }>(
      'SELECT (extract(epoch FROM jackpot.window_max_age()) * 1000)::bigint::text AS ms',
    );
    return Number(rows[0]?.ms);
  });

const state = async () =>
  (
    await db.pool.query<{ next_offset: string; claimed: string; ledger: string; amount: string }>(
      `SELECT (SELECT next_offset::text FROM jackpot.consumer_offsets WHERE group_id = 'g' AND partition = 0) AS next_offset,
              (SELECT count(*)::text FROM jackpot.applied_events) AS claimed,
              (SELECT count(*)::text FROM jackpot.ledger) AS ledger,
              (SELECT amount_micro::text FROM jackpot.pool_totals WHERE pool_id = 'age:main') AS amount`,
    )
  ).rows[0];

const messages = [0, 1, 2].map((i) => ({
  offset: String(i),
  key: Buffer.from(`p-${i}`),
  value: Buffer.from(JSON.stringify(wager({ gameId: 'age-game', playerId: `p-${i}`, amountMinor: 100 }))),
}));

/** One window of `messages`, as the aggregator writes it, held open `holdMs` before COMMIT. */
const writeWindow = (maxAge: string, holdMs: number) =>
  withTransaction(db.pool, async (c) => {
    await c.query(`SET LOCAL jackpot.window_max_age = '${maxAge}'`);
    const outcome = await applyWindow(c, { ...at, slices: [{ partition: 0, messages }], nowMs: Date.now() });
    if (holdMs > 0) await c.query('SELECT pg_sleep($1)', [holdMs / 1000]);
    return outcome;
  });

void test('the limit is 50 minutes, under the claim’s grace hour; a session may shorten it, never lengthen it', async () => {
  assert.equal(await maxAgeMs(), 50 * 60_000);
  assert.ok((await maxAgeMs()) < CLAIM_GRACE_MS, 'commits must land within the hour a claim started in');
  assert.equal(await maxAgeMs('2 s'), 2_000);
  assert.equal(await maxAgeMs('10 hours'), 50 * 60_000);
});

void test('a window held open past the limit is refused at COMMIT, retryably, and leaves nothing; the retry applies it once', async () => {
  const before = await state();
  const refused = await writeWindow('300 ms', 600).then(
    () => assert.fail('the old window committed'),
    (e: unknown) => e as { code?: string; message?: string },
  );
  assert.equal(refused.code, '40001', `serialization failure, got ${String(refused.message)}`);
  assert.match(String(refused.message), /window transaction refused at commit/);
  assert.ok(isRetryableDbError(refused), 'the aggregator retries it (retryDb)');
  assert.deepEqual(await state(), before, 'no position, claim, ledger row or pool amount stayed');

  // The retry, in a new transaction within the limit: applied once, as if the first never ran.
  const outcome = await writeWindow('300 ms', 0);
  assert.equal(outcome.applied, 3);
  assert.equal(outcome.duplicates, 0);
  const after = await state();
  assert.deepEqual(
    [after?.next_offset, after?.claimed, after?.ledger, after?.amount],
    ['3', '3', '3', String(1_000_000_000n + 3n * 100n * 10_000n)],
  );
});
