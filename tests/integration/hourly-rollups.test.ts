/**
 * jackpot.pool_hourly_rollups (migration 0010) kept by the pipeline: after windows of wagers over
 * several hours and games, re-sent copies, mystery hits inside windows and claims, every rollup row
 * must equal what the ledger (jackpot.contributions) and jackpot.wins add up to for its hour, pool
 * and game, and jackpot.pool_hourly must read them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateWinClaim } from '../../shared/src/domain/win-claim.js';
import { claimPoolWin } from '../../shared/src/wins.js';
import { createTestDatabase } from '../helpers/db.js';
import { windowWriter } from '../helpers/positions.js';
import { prng, seedJackpot, wager, type TestWager } from '../helpers/fixtures.js';
import { ensureDayPartitions } from '../../shared/src/retention.js';

const db = await createTestDatabase();
await ensureDayPartitions(db.pool, Date.now());
const writeWindow = await windowWriter(db.pool);

async function apply(wagers: readonly TestWager[]): Promise<number> {
  const out = await writeWindow(
    wagers.map((w) => ({ key: Buffer.from(w.playerId), value: Buffer.from(JSON.stringify(w)) })),
  );
  return out.mysteryWins;
}

await seedJackpot(db.pool, {
  jackpotId: 'hr',
  currency: 'EUR',
  pools: [
    { tier: 'mini', seedMinor: 100, contributionPpm: 20_000, reservePpm: 5_000, mustHitByMinor: 150 },
    {
      tier: 'grand',
      seedMinor: 10_000,
      contributionPpm: 7_000,
      reservePpm: 0,
      ceilingMinor: 10_050,
      overflow: 'reserve',
    },
  ],
  games: ['hr-a', 'hr-b', 'hr-c'],
});

/** The rollups as 0008's pool_hourly computed them from the ledger and the wins. */
const fromLedger = `
  WITH ledger AS (
    SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, pool_id, game_id, count(*) AS wagers,
           sum(wager_minor) AS wagered_minor, sum(contribution_micro) AS contribution_micro, sum(overflow_micro) AS overflow_micro,
           sum(reserve_micro) AS reserve_micro
    FROM jackpot.contributions GROUP BY 1, 2, 3
  ), won AS (
    SELECT date_trunc('hour', won_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, pool_id, game_id, count(*) AS wins,
           sum(amount_minor) AS won_minor
    FROM jackpot.wins GROUP BY 1, 2, 3
  )
  SELECT coalesce(l.hour, w.hour) AS hour, coalesce(l.pool_id, w.pool_id) AS pool_id, coalesce(l.game_id, w.game_id) AS game_id,
         coalesce(l.wagers, 0)::text AS wagers, coalesce(l.wagered_minor, 0)::text AS wagered_minor,
         coalesce(l.contribution_micro, 0)::text AS contribution_micro, coalesce(l.overflow_micro, 0)::text AS overflow_micro,
         coalesce(l.reserve_micro, 0)::text AS reserve_micro, coalesce(w.wins, 0)::text AS wins, coalesce(w.won_minor, 0)::text AS won_minor
  FROM ledger l FULL JOIN won w USING (hour, pool_id, game_id)
  ORDER BY 1, 2, 3`;
const fromRollups = `
  SELECT hour, pool_id, game_id, wagers::text, wagered_minor::text, contribution_micro::text, overflow_micro::text,
         reserve_micro::text, wins::text, won_minor::text
  FROM jackpot.pool_hourly_rollups ORDER BY 1, 2, 3`;
const fromFunction = `
  SELECT hour, pool_id, game_id, wagers::text, wagered_minor::text, contribution_micro::text, overflow_micro::text,
         reserve_micro::text, wins::text, won_minor::text
  FROM jackpot.pool_hourly(now() - interval '1 day', now() + interval '1 day') ORDER BY 1, 2, 3`;

void test('the rollups equal the ledger and the wins per hour, pool and game after windows, copies, mystery hits and claims', async () => {
  const rnd = prng(42);
  const now = Date.now();
  const hourStart = now - (now % 3_600_000);
  const sent: TestWager[] = [];
  let mystery = 0;
  for (let w = 0; w < 6; w++) {
    const batch: TestWager[] = [];
    for (let i = 0; i < 150; i++) {
      // Three hours (this one and the two before), the edges of an hour included.
      const at =
        [hourStart - 3_600_000 + 1, hourStart - 1, hourStart, now - Math.floor(rnd() * 7_000_000)][i % 4] ??
        now;
      batch.push(
        wager({
          gameId: ['hr-a', 'hr-b', 'hr-c'][Math.floor(rnd() * 3)] ?? 'hr-a',
          playerId: `p${Math.floor(rnd() * 40)}`,
          amountMinor: 1 + Math.floor(rnd() * 5_000),
          occurredAt: new Date(Math.max(at, now - 7_000_000)).toISOString(),
        }),
      );
    }
    // Copies of earlier wagers, in this window and across windows: counted once.
    if (sent.length > 0) batch.push(sent[Math.floor(rnd() * sent.length)] as TestWager);
    batch.push(batch[3] as TestWager);
    mystery += await apply(batch);
    sent.push(...batch);
    const v = validateWinClaim({
      claimId: `claim-${w}`,
      poolId: 'hr:grand',
      gameId: 'hr-b',
      playerId: 'winner',
    });
    assert.ok(v.ok);
    assert.equal((await claimPoolWin(db.pool, v.claim)).kind, 'won');
  }
  assert.ok(mystery >= 3, `mystery hits inside the windows: ${mystery}`);
  const expected = (await db.pool.query(fromLedger)).rows;
  assert.ok(expected.length >= 9, `hours × games × pools: ${expected.length}`);
  assert.deepEqual((await db.pool.query(fromRollups)).rows, expected);
  assert.deepEqual((await db.pool.query(fromFunction)).rows, expected);
  const overflow = await db.pool.query<{ n: string }>(
    "SELECT sum(overflow_micro)::text AS n FROM jackpot.pool_hourly_rollups WHERE pool_id = 'hr:grand'",
  );
  assert.notEqual(overflow.rows[0]?.n, '0', 'the grand reached its ceiling: overflow is summed too');
});
