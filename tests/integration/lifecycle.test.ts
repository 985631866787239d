/**
 * The jackpot lifecycle on the real database, through the same edges the services use: windows
 * of wagers written by the aggregator's transaction (applyWindow), claims by the gateway's
 * (claimPoolWin). Every scenario ends with the contract's reconciliation passing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DrawTriggerMinor } from '../../shared/src/domain/index.js';
import { validateWinClaim } from '../../shared/src/domain/win-claim.js';
import { reconcile } from '../../shared/src/domain/reconcile.js';
import { claimPoolWin } from '../../shared/src/wins.js';
import { loadRecords } from '../../services/cli/src/reconcile.js';
import { createTestDatabase } from '../helpers/db.js';
import { windowWriter } from '../helpers/positions.js';
import { seedJackpot, wager, type TestWager } from '../helpers/fixtures.js';

const db = await createTestDatabase();
const writeWindow = await windowWriter(db.pool, 'test-cluster');

const apply = (wagers: readonly TestWager[], drawTriggerMinor?: DrawTriggerMinor) =>
  writeWindow(
    wagers.map((w) => ({ key: Buffer.from(w.playerId), value: Buffer.from(JSON.stringify(w)) })),
    drawTriggerMinor,
  );

async function assertReconciles(): Promise<void> {
  const client = await db.pool.connect();
  try {
    const { pools, cycles } = await loadRecords(client);
    const { findings } = reconcile(pools, cycles);
    assert.deepEqual(findings, [], 'every invariant holds');
  } finally {
    client.release();
  }
}

const pool = async (poolId: string) =>
  (
    await db.pool.query<{
      cycle: number;
      amount_micro: string;
      reserve_micro: string;
      next_carry_micro: string;
      version: string;
    }>(
      'SELECT cycle, amount_micro::text, reserve_micro::text, next_carry_micro::text, version::text FROM jackpot.pool_totals WHERE pool_id = $1',
      [poolId],
    )
  ).rows[0];

function claim(body: unknown) {
  const v = validateWinClaim(body);
  assert.ok(v.ok);
  return v.claim;
}

await seedJackpot(db.pool, {
  jackpotId: 'cl',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 12_345, reservePpm: 300_000 }],
  games: ['cl-game'],
});

void test('a claim pays the whole minor units, carries the fraction, and reseeds from the reserve', async () => {
  // 3 wagers of 999: contribution 999 × 12,345 = 12,332,655 micro each → 36,997,965; reserve 999 × 300,000 × 3 = 899,100,000.
  await apply([1, 2, 3].map((i) => wager({ gameId: 'cl-game', playerId: `p${i}`, amountMinor: 999 })));
  assert.equal((await pool('cl:main'))?.amount_micro, String(1_000_000_000 + 36_997_965));

  const c = claim({ claimId: 'claim-1', poolId: 'cl:main', gameId: 'cl-game', playerId: 'winner' });
  const won = await claimPoolWin(db.pool, c);
  assert.equal(won.kind, 'won');
  assert.ok(won.kind === 'won');
  assert.equal(won.answer.amountMinor, 1_036, 'pays floor(1,036.997965)');
  assert.equal(won.answer.cycle, 1);
  assert.equal(won.update?.cycle, 2);
  // Next cycle: seed 1,000 from the reserve (899.1 < 1,000: reserve emptied, top-up 100.9), carry 0.997965.
  const after = await pool('cl:main');
  assert.equal(after?.cycle, 2);
  assert.equal(after?.amount_micro, String(1_000_000_000 + 997_965));
  assert.equal(after?.reserve_micro, '0');
  const topups = await db.pool.query<{ amount_micro: string; reason: string }>(
    "SELECT amount_micro::text, reason FROM jackpot.topups WHERE pool_id = 'cl:main' ORDER BY id",
  );
  assert.deepEqual(topups.rows, [
    { amount_micro: '1000000000', reason: 'initial-seed' },
    { amount_micro: '100900000', reason: 'reseed' },
  ]);

  // The same claimId: the same answer, nothing paid again.
  const again = await claimPoolWin(db.pool, c);
  assert.deepEqual(again, { kind: 'replayed', answer: won.answer });
  // Wagers after the win are booked to cycle 2.
  await apply([wager({ gameId: 'cl-game', amountMinor: 100 })]);
  const cycles = await db.pool.query<{ cycle: number; n: string }>(
    "SELECT cycle, count(*) AS n FROM jackpot.contributions WHERE pool_id = 'cl:main' GROUP BY cycle ORDER BY cycle",
  );
  assert.deepEqual(cycles.rows, [
    { cycle: 1, n: '3' },
    { cycle: 2, n: '1' },
  ]);
  await assertReconciles();
});

void test('a second claim a moment later wins the new cycle: its seed plus what was carried', async () => {
  const before = await pool('cl:main');
  const first = await claimPoolWin(
    db.pool,
    claim({ claimId: 'claim-2a', poolId: 'cl:main', gameId: 'cl-game', playerId: 'a' }),
  );
  const second = await claimPoolWin(
    db.pool,
    claim({ claimId: 'claim-2b', poolId: 'cl:main', gameId: 'cl-game', playerId: 'b' }),
  );
  assert.ok(first.kind === 'won' && second.kind === 'won');
  assert.equal(first.answer.cycle, before?.cycle ?? 0);
  assert.equal(second.answer.cycle, first.answer.cycle + 1);
  // The second pays the reseeded amount: seed 1,000 plus the first's fraction (< 1 minor unit).
  assert.equal(second.answer.amountMinor, 1_000);
  await assertReconciles();
});

void test('concurrent copies of one claim pay once; bad claims are refused', async () => {
  const c = claim({ claimId: 'claim-3', poolId: 'cl:main', gameId: 'cl-game', playerId: 'c' });
  const results = await Promise.all([
    claimPoolWin(db.pool, c),
    claimPoolWin(db.pool, c),
    claimPoolWin(db.pool, c),
  ]);
  assert.equal(results.filter((r) => r.kind === 'won').length, 1);
  assert.equal(
    new Set(results.map((r) => (r.kind === 'won' || r.kind === 'replayed' ? r.answer.winId : r.kind))).size,
    1,
  );
  assert.deepEqual(
    await claimPoolWin(
      db.pool,
      claim({ claimId: 'claim-3', poolId: 'cl:other', gameId: 'cl-game', playerId: 'c' }),
    ),
    {
      kind: 'claim_id_reused',
      poolId: 'cl:main',
    },
  );
  assert.deepEqual(
    await claimPoolWin(
      db.pool,
      claim({ claimId: 'claim-4', poolId: 'cl:nope', gameId: 'cl-game', playerId: 'c' }),
    ),
    { kind: 'pool_not_found' },
  );
  assert.deepEqual(
    await claimPoolWin(
      db.pool,
      claim({ claimId: 'claim-5', poolId: 'cl:main', gameId: 'other', playerId: 'c' }),
    ),
    {
      kind: 'game_not_linked',
      jackpotId: 'cl',
    },
  );
  await assertReconciles();
});

void test('a mystery pool pays exactly its hidden trigger to the wager that reaches it, and carries the excess', async () => {
  // Triggers drawn by the test: 1,500 then 1,200 minor.
  const draws = [1_500n, 1_200n, 1_800n];
  await seedJackpot(
    db.pool,
    {
      jackpotId: 'my',
      currency: 'EUR',
      pools: [
        {
          tier: 'drop',
          seedMinor: 1_000,
          contributionPpm: 100_000,
          reservePpm: 100_000,
          mustHitByMinor: 2_000,
        },
      ],
      games: ['my-game'],
    },
    () => draws.shift() ?? 1_000n,
  );
  // Each wager of 1,000 adds 100 minor: 1,000 → 1,100 → … → 1,500 on the 5th (hit exactly).
  const ws = Array.from({ length: 12 }, (_, i) =>
    wager({ gameId: 'my-game', playerId: `m${i}`, amountMinor: 1_000 }),
  );
  // The trigger of later cycles comes from the OS CSPRNG in the aggregator; check the first hit exactly.
  const out = await apply(ws);
  assert.ok(out.mysteryWins >= 1);
  const wins = await db.pool.query<{ cycle: number; amount_minor: string; player_id: string; kind: string }>(
    "SELECT cycle, amount_minor::text, player_id, kind FROM jackpot.wins WHERE pool_id = 'my:drop' ORDER BY cycle",
  );
  assert.deepEqual(wins.rows[0], { cycle: 1, amount_minor: '1500', player_id: 'm4', kind: 'mystery' });
  const ledger = await db.pool.query<{ player_id: string; cycle: number }>(
    "SELECT player_id, cycle FROM jackpot.contributions WHERE pool_id = 'my:drop' AND player_id IN ('m4', 'm5')",
  );
  assert.deepEqual(
    new Map(ledger.rows.map((r) => [r.player_id, r.cycle])),
    new Map([
      ['m4', 1],
      ['m5', 2],
    ]),
    'the winning wager is in the paid cycle, the next one in the next',
  );
  const triggers = await db.pool.query<{ trigger_micro: string; seed_micro: string; must: string }>(
    `SELECT tr.trigger_micro::text, c.seed_micro::text, c.must_hit_by_micro::text AS must FROM jackpot.pool_triggers tr
     JOIN jackpot.pool_cycles c USING (pool_id, cycle) WHERE tr.pool_id = 'my:drop'`,
  );
  for (const t of triggers.rows) {
    assert.ok(
      BigInt(t.trigger_micro) >= BigInt(t.seed_micro) && BigInt(t.trigger_micro) <= BigInt(t.must),
      'trigger within [seed, must-hit-by]',
    );
    assert.equal(BigInt(t.trigger_micro) % 1_000_000n, 0n, 'trigger in whole minor units');
  }
  await assertReconciles();
});

void test('a ceiling sends overflow to the reserve or holds it for the next cycle', async () => {
  await seedJackpot(db.pool, {
    jackpotId: 'cap',
    currency: 'EUR',
    pools: [
      { tier: 'toreserve', seedMinor: 100, contributionPpm: 500_000, ceilingMinor: 150, overflow: 'reserve' },
      { tier: 'tonext', seedMinor: 100, contributionPpm: 500_000, ceilingMinor: 150, overflow: 'next-cycle' },
    ],
    games: ['cap-game'],
  });
  // 40 + 40 = 80 minor of contribution per pool: 50 fits under the ceiling, 30 overflows.
  await apply([
    wager({ gameId: 'cap-game', amountMinor: 80 }),
    wager({ gameId: 'cap-game', amountMinor: 80 }),
  ]);
  const r = await pool('cap:toreserve');
  const n = await pool('cap:tonext');
  assert.equal(r?.amount_micro, '150000000');
  assert.equal(r?.reserve_micro, '30000000');
  assert.equal(n?.amount_micro, '150000000');
  assert.equal(n?.next_carry_micro, '30000000');
  const won = await claimPoolWin(
    db.pool,
    claim({ claimId: 'cap-1', poolId: 'cap:tonext', gameId: 'cap-game', playerId: 'x' }),
  );
  assert.ok(won.kind === 'won');
  assert.equal(won.answer.amountMinor, 150);
  // Next cycle: seed 100 (a top-up: no reserve) + the 30 held back.
  assert.equal((await pool('cap:tonext'))?.amount_micro, '130000000');
  await assertReconciles();
});

void test('a wager in another currency is converted at the configured rate, or dead-lettered without one', async () => {
  await seedJackpot(db.pool, {
    jackpotId: 'fx',
    currency: 'EUR',
    pools: [{ tier: 'main', seedMinor: 0, contributionPpm: 10_000 }],
    games: ['fx-game'],
  });
  await db.pool.query(
    "INSERT INTO jackpot.fx_rates (from_currency, to_currency, rate_micro) VALUES ('USD', 'EUR', 920000)",
  );
  const out = await apply([
    wager({ gameId: 'fx-game', currency: 'USD', amountMinor: 1_000 }),
    wager({ gameId: 'fx-game', currency: 'GBP', amountMinor: 1_000 }),
  ]);
  assert.equal(out.applied, 1);
  assert.equal(out.rejected.get('currency_mismatch'), 1);
  // 1,000 USD minor × 0.92 = 920 EUR minor; × 1 % = 9.2 EUR minor = 9,200,000 micro.
  const row = await db.pool.query<{
    contribution_micro: string;
    wager_currency: string;
    fx_rate_micro: string;
    wager_minor: string;
  }>(
    "SELECT contribution_micro::text, wager_currency, fx_rate_micro::text, wager_minor::text FROM jackpot.contributions WHERE pool_id = 'fx:main'",
  );
  assert.deepEqual(row.rows, [
    { contribution_micro: '9200000', wager_currency: 'USD', fx_rate_micro: '920000', wager_minor: '1000' },
  ]);
  await assertReconciles();
});

void test('two mystery hits in one window: a cycle opened and closed inside the batch is recorded whole', async () => {
  await seedJackpot(
    db.pool,
    {
      jackpotId: 'twice',
      currency: 'EUR',
      pools: [{ tier: 'drop', seedMinor: 1_000, contributionPpm: 100_000, mustHitByMinor: 5_000 }],
      games: ['twice-game'],
    },
    () => 1_100n,
  );
  // A wager of 1,000 adds 100 minor; every trigger is 1,100: the first and the second wager both hit, the third (+50) does not.
  const out = await apply(
    [
      wager({ gameId: 'twice-game', playerId: 'w1', amountMinor: 1_000 }),
      wager({ gameId: 'twice-game', playerId: 'w2', amountMinor: 1_000 }),
      wager({ gameId: 'twice-game', playerId: 'w3', amountMinor: 500 }),
    ],
    () => 1_100n,
  );
  assert.equal(out.mysteryWins, 2);
  const cycles = await db.pool.query<{ cycle: number; payout_micro: string | null; ended: boolean }>(
    "SELECT cycle, payout_micro::text, ended_at IS NOT NULL AS ended FROM jackpot.pool_cycles WHERE pool_id = 'twice:drop' ORDER BY cycle",
  );
  assert.deepEqual(cycles.rows, [
    { cycle: 1, payout_micro: '1100000000', ended: true },
    { cycle: 2, payout_micro: '1100000000', ended: true },
    { cycle: 3, payout_micro: null, ended: false },
  ]);
  assert.equal(
    (await pool('twice:drop'))?.amount_micro,
    '1050000000',
    'cycle 3: reseeded 1,000 + 50 from the third wager',
  );
  await assertReconciles();
});

void test('a window that waited for a claim on a mystery pool sees the new cycle and its trigger (no failed window)', async () => {
  await seedJackpot(db.pool, {
    jackpotId: 'race',
    currency: 'EUR',
    pools: [{ tier: 'drop', seedMinor: 1_000, contributionPpm: 10_000, mustHitByMinor: 1_000_000 }],
    games: ['race-game'],
  });
  const waiting = async (n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const r = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if ((r.rows[0]?.n ?? 0) >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail(`expected ${n} transactions waiting for a lock`);
  };
  for (let round = 0; round < 3; round++) {
    // Hold the pool, queue a claim and then a window behind it, let go: the claim opens the next
    // cycle (with a new trigger) and commits while the window waits for the pool's row lock.
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM jackpot.pool_totals WHERE pool_id = 'race:drop' FOR UPDATE");
      const claimed = claimPoolWin(
        db.pool,
        claim({ claimId: `race-claim-${round}`, poolId: 'race:drop', gameId: 'race-game', playerId: 'w' }),
      );
      await waiting(1);
      const window = apply(
        [1, 2, 3].map((i) => wager({ gameId: 'race-game', playerId: `p${i}`, amountMinor: 500 })),
      );
      await waiting(2);
      await holder.query('COMMIT');
      assert.equal((await claimed).kind, 'won');
      const outcome = await window;
      assert.equal(outcome.applied, 3, 'the window applied its wagers instead of failing');
    } finally {
      holder.release();
    }
  }
  assert.equal((await pool('race:drop'))?.cycle, 4);
  await assertReconciles();
});
