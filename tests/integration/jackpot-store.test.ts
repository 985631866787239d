/**
 * Jackpot configuration on a real, freshly migrated database: what a PUT stores, what starts
 * running, and what it refuses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withClient } from '../../shared/src/db.js';
import { validateJackpotConfig, type JackpotConfig } from '../../shared/src/domain/jackpot-config.js';
import {
  getJackpot,
  putJackpot,
  type PutJackpotResult,
  type StoredJackpot,
} from '../../shared/src/jackpot-store.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();
const T0 = new Date('2026-11-29T12:00:00.000Z');
const T1 = new Date('2026-11-29T13:00:00.000Z');

function config(jackpotId: string, body: unknown): JackpotConfig {
  const result = validateJackpotConfig(jackpotId, body);
  if (!result.ok) assert.fail(JSON.stringify(result.details));
  return result.config;
}

/** Draws the middle of the range, so expectations are exact. */
const midpoint = (low: bigint, high: bigint): bigint => (low + high) / 2n;
const put = (cfg: JackpotConfig, now = T0): Promise<PutJackpotResult> =>
  withClient(db.pool, (c) => putJackpot(c, cfg, { now, actor: 'test-operator', drawTriggerMinor: midpoint }));
const get = (id: string): Promise<StoredJackpot | null> => withClient(db.pool, (c) => getJackpot(c, id));

function stored(result: PutJackpotResult): StoredJackpot {
  if (!result.ok) assert.fail(`expected ok, got ${result.code}: ${result.message}`);
  return result.jackpot;
}

async function totals(jackpotId: string) {
  const r = await db.pool.query<Record<string, unknown>>(
    `SELECT pool_id, jackpot_id, tier, currency, amount_minor::text, cycle, version::text, amount_micro::text,
            contribution_ppm, reserve_ppm, seed_micro::text, carried_in_micro::text, cycle_contribution_micro::text,
            reserve_micro::text, updated_at, cycle_started_at, ceiling_micro::text, overflow,
            must_hit_by_micro::text, topup_micro_total::text
     FROM jackpot.pool_totals WHERE jackpot_id = $1 ORDER BY pool_id`,
    [jackpotId],
  );
  return r.rows;
}

const EU = {
  currency: 'EUR',
  pools: [
    {
      tier: 'grand',
      seedMinor: 1_000_000,
      contributionPpm: 2000,
      reservePpm: 500,
      ceilingMinor: 5_000_000,
      overflow: 'reserve',
      mustHitByMinor: 4_000_000,
    },
    { tier: 'mini', seedMinor: 1000, contributionPpm: 5000 },
  ],
  games: ['starburst-eu', 'book-of-dead'],
};

/** EU with games of its own: each test's jackpots must not claim each other's games. */
const eu = (jackpotId: string, overrides: Record<string, unknown> = {}): JackpotConfig =>
  config(jackpotId, { ...EU, games: [`${jackpotId}.starburst`, `${jackpotId}.book`], ...overrides });

void test('a new jackpot is stored and starts at once: cycle 1 at its seeds, shares frozen for the cycle', async () => {
  const result = await put(eu('eu'));
  assert.equal(result.ok && result.created, true);
  const expected: StoredJackpot = {
    jackpotId: 'eu',
    currency: 'EUR',
    pools: [
      {
        poolId: 'eu:mini',
        tier: 'mini',
        seedMinor: 1000,
        contributionPpm: 5000,
        reservePpm: 0,
        ceilingMinor: null,
        overflow: null,
        mustHitByMinor: null,
        current: {
          cycle: 1,
          seedMinor: 1000,
          contributionPpm: 5000,
          reservePpm: 0,
          ceilingMinor: null,
          overflow: null,
          mustHitByMinor: null,
        },
        appliesFromCycle: 1,
      },
      {
        poolId: 'eu:grand',
        tier: 'grand',
        seedMinor: 1_000_000,
        contributionPpm: 2000,
        reservePpm: 500,
        ceilingMinor: 5_000_000,
        overflow: 'reserve',
        mustHitByMinor: 4_000_000,
        current: {
          cycle: 1,
          seedMinor: 1_000_000,
          contributionPpm: 2000,
          reservePpm: 500,
          ceilingMinor: 5_000_000,
          overflow: 'reserve',
          mustHitByMinor: 4_000_000,
        },
        appliesFromCycle: 1,
      },
    ],
    games: ['eu.book', 'eu.starburst'],
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
  };
  assert.deepEqual(stored(result), expected);
  assert.deepEqual(await get('eu'), expected);

  assert.deepEqual(await totals('eu'), [
    {
      pool_id: 'eu:grand',
      jackpot_id: 'eu',
      tier: 'grand',
      currency: 'EUR',
      amount_minor: '1000000',
      cycle: 1,
      version: '1',
      amount_micro: '1000000000000',
      contribution_ppm: 2000,
      reserve_ppm: 500,
      seed_micro: '1000000000000',
      carried_in_micro: '0',
      cycle_contribution_micro: '0',
      reserve_micro: '0',
      updated_at: T0,
      cycle_started_at: T0,
      ceiling_micro: '5000000000000',
      overflow: 'reserve',
      must_hit_by_micro: '4000000000000',
      topup_micro_total: '1000000000000',
    },
    {
      pool_id: 'eu:mini',
      jackpot_id: 'eu',
      tier: 'mini',
      currency: 'EUR',
      amount_minor: '1000',
      cycle: 1,
      version: '1',
      amount_micro: '1000000000',
      contribution_ppm: 5000,
      reserve_ppm: 0,
      seed_micro: '1000000000',
      carried_in_micro: '0',
      cycle_contribution_micro: '0',
      reserve_micro: '0',
      updated_at: T0,
      cycle_started_at: T0,
      ceiling_micro: null,
      overflow: null,
      must_hit_by_micro: null,
      topup_micro_total: '1000000000',
    },
  ]);

  // Cycle 1 is recorded, the seed is booked as the operator's top-up, and only the mystery pool
  // has a trigger: drawn in whole minor units between its seed and must-hit-by.
  const cycles = await db.pool.query(
    `SELECT pool_id, cycle, seed_micro::text, carried_in_micro::text, contribution_ppm, reserve_ppm, ceiling_micro::text,
            overflow, must_hit_by_micro::text, ended_at FROM jackpot.pool_cycles WHERE pool_id LIKE 'eu:%' ORDER BY pool_id`,
  );
  assert.deepEqual(cycles.rows, [
    {
      pool_id: 'eu:grand',
      cycle: 1,
      seed_micro: '1000000000000',
      carried_in_micro: '0',
      contribution_ppm: 2000,
      reserve_ppm: 500,
      ceiling_micro: '5000000000000',
      overflow: 'reserve',
      must_hit_by_micro: '4000000000000',
      ended_at: null,
    },
    {
      pool_id: 'eu:mini',
      cycle: 1,
      seed_micro: '1000000000',
      carried_in_micro: '0',
      contribution_ppm: 5000,
      reserve_ppm: 0,
      ceiling_micro: null,
      overflow: null,
      must_hit_by_micro: null,
      ended_at: null,
    },
  ]);
  const topups = await db.pool.query(
    `SELECT pool_id, cycle, amount_micro::text, reason FROM jackpot.topups WHERE pool_id LIKE 'eu:%' ORDER BY pool_id`,
  );
  assert.deepEqual(topups.rows, [
    { pool_id: 'eu:grand', cycle: 1, amount_micro: '1000000000000', reason: 'initial-seed' },
    { pool_id: 'eu:mini', cycle: 1, amount_micro: '1000000000', reason: 'initial-seed' },
  ]);
  const triggers = await db.pool.query(
    `SELECT pool_id, cycle, trigger_micro::text FROM jackpot.pool_triggers WHERE pool_id LIKE 'eu:%'`,
  );
  assert.deepEqual(triggers.rows, [{ pool_id: 'eu:grand', cycle: 1, trigger_micro: '2500000000000' }]);
});

void test('the default trigger draw is random and within the mystery range', async () => {
  const draws = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const cfg = config(`rnd${i}`, {
      currency: 'EUR',
      pools: [{ tier: 'm', seedMinor: 100, contributionPpm: 1, mustHitByMinor: 1_000_000_000 }],
      games: [],
    });
    stored(await withClient(db.pool, (c) => putJackpot(c, cfg)));
    const r = await db.pool.query<{ t: string }>(
      `SELECT trigger_micro::text AS t FROM jackpot.pool_triggers WHERE pool_id = $1`,
      [`rnd${i}:m`],
    );
    const t = BigInt(r.rows[0]?.t ?? '-1');
    assert.ok(t >= 100_000_000n && t <= 1_000_000_000_000_000n && t % 1_000_000n === 0n, String(t));
    draws.add(String(t));
  }
  assert.ok(draws.size > 1, 'not the same trigger every time');
});

void test('every change is audited with who, before and after; a PUT that changes nothing is not', async () => {
  stored(await put(eu('aud')));
  stored(await put(eu('aud'), T1));
  stored(await put(eu('aud', { games: [] }), T1));
  const audit = await db.pool.query<{
    actor: string;
    action: string;
    subject: string;
    old_value: StoredJackpot | null;
    new_value: StoredJackpot;
    at: Date;
  }>(
    `SELECT actor, action, subject, old_value, new_value, at FROM jackpot.config_audit WHERE subject = 'jackpot:aud' ORDER BY id`,
  );
  assert.deepEqual(
    audit.rows.map((r) => [
      r.actor,
      r.action,
      r.subject,
      r.old_value?.games ?? null,
      r.new_value.games,
      r.at,
    ]),
    [
      ['test-operator', 'jackpot.create', 'jackpot:aud', null, ['aud.book', 'aud.starburst'], T0],
      ['test-operator', 'jackpot.update', 'jackpot:aud', ['aud.book', 'aud.starburst'], [], T1],
    ],
  );
});

void test('an unknown jackpot reads as null', async () => {
  assert.equal(await get('nope'), null);
});

void test('changing a running pool updates the configuration only; the running cycle keeps its shares', async () => {
  stored(await put(eu('chg')));
  const before = await totals('chg');
  const result = await put(
    eu('chg', {
      pools: [EU.pools[0], { tier: 'mini', seedMinor: 2000, contributionPpm: 7000, reservePpm: 100 }],
    }),
    T1,
  );
  const jackpot = stored(result);
  assert.equal(result.ok && result.created, false);
  const mini = jackpot.pools.find((p) => p.tier === 'mini');
  assert.deepEqual(mini, {
    poolId: 'chg:mini',
    tier: 'mini',
    seedMinor: 2000,
    contributionPpm: 7000,
    reservePpm: 100,
    ceilingMinor: null,
    overflow: null,
    mustHitByMinor: null,
    current: {
      cycle: 1,
      seedMinor: 1000,
      contributionPpm: 5000,
      reservePpm: 0,
      ceilingMinor: null,
      overflow: null,
      mustHitByMinor: null,
    },
    appliesFromCycle: 2,
  });
  assert.equal(jackpot.pools.find((p) => p.tier === 'grand')?.appliesFromCycle, 1);
  assert.equal(jackpot.createdAt, T0.toISOString());
  assert.equal(jackpot.updatedAt, T1.toISOString());
  assert.deepEqual(await totals('chg'), before, 'pool_totals untouched');
  const cycles = await db.pool.query(
    `SELECT count(*)::int AS n FROM jackpot.pool_cycles WHERE pool_id LIKE 'chg:%'`,
  );
  assert.deepEqual(cycles.rows, [{ n: 2 }], 'no cycle opened by a change');

  // Configured back to what the running cycle uses: the configuration governs the current cycle again.
  const seedOnly = stored(
    await put(
      eu('chg', {
        pools: [EU.pools[0], { tier: 'mini', seedMinor: 1000, contributionPpm: 5000, reservePpm: 0 }],
      }),
      T1,
    ),
  );
  assert.equal(
    seedOnly.pools.find((p) => p.tier === 'mini')?.appliesFromCycle,
    1,
    'back to the running parameters',
  );
  const grand = stored(
    await put(
      eu('chg', {
        pools: [
          { ...EU.pools[0], ceilingMinor: 6_000_000 },
          { tier: 'mini', seedMinor: 1000, contributionPpm: 5000 },
        ],
      }),
      T1,
    ),
  ).pools.find((p) => p.tier === 'grand');
  assert.deepEqual(
    [grand?.ceilingMinor, grand?.current.ceilingMinor, grand?.appliesFromCycle],
    [6_000_000, 5_000_000, 2],
  );
});

void test('the same configuration again changes nothing, not even updatedAt', async () => {
  stored(await put(eu('same')));
  const again = stored(await put(eu('same'), T1));
  assert.equal(again.updatedAt, T0.toISOString());
});

void test('a tier added to a running jackpot starts at cycle 1 at its seed', async () => {
  stored(await put(eu('add')));
  const jackpot = stored(
    await put(
      eu('add', { pools: [...EU.pools, { tier: 'major', seedMinor: 50_000, contributionPpm: 3000 }] }),
      T1,
    ),
  );
  assert.deepEqual(
    jackpot.pools.map((p) => p.tier),
    ['mini', 'major', 'grand'],
  );
  const major = (await totals('add')).find((r) => r['tier'] === 'major');
  assert.equal(major?.['topup_micro_total'], '50000000000');
  assert.equal(major?.['amount_micro'], '50000000000');
  assert.equal(major?.['cycle'], 1);
  assert.deepEqual(major?.['cycle_started_at'], T1);
});

void test('the currency of a running jackpot cannot change', async () => {
  stored(await put(eu('cur')));
  const result = await put(eu('cur', { currency: 'USD' }), T1);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.code, 'currency_change');
    assert.deepEqual(
      result.details.map((d) => d.path),
      ['currency'],
    );
  }
  assert.equal((await get('cur'))?.currency, 'EUR');
});

void test('a tier cannot be removed from a running jackpot, and nothing else of that PUT is stored', async () => {
  stored(await put(eu('rm')));
  const result = await put(eu('rm', { pools: [EU.pools[0]], games: ['other-game'] }), T1);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.code, 'tier_removed');
    assert.match(result.details[0]?.message ?? '', /rm:mini/);
  }
  const after = await get('rm');
  assert.deepEqual(
    after?.pools.map((p) => p.tier),
    ['mini', 'grand'],
  );
  assert.deepEqual(after?.games, ['rm.book', 'rm.starburst']);
});

void test('a game linked to another jackpot is refused with every such game named; nothing is stored', async () => {
  stored(await put(eu('a', { games: ['g1', 'g2', 'g3'] })));
  const result = await put(eu('b', { games: ['g0', 'g3', 'g1'] }));
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.code, 'game_linked_elsewhere');
    assert.deepEqual(
      result.details.map((d) => [d.path, d.code]),
      [
        ['games[2]', 'game_linked_elsewhere'],
        ['games[1]', 'game_linked_elsewhere'],
      ],
    );
    assert.match(result.details[0]?.message ?? '', /"g1" is linked to jackpot "a"/);
  }
  assert.equal(await get('b'), null, 'the new jackpot was rolled back with its pools');
  assert.equal((await db.pool.query(`SELECT 1 FROM jackpot.pool_totals WHERE jackpot_id = 'b'`)).rowCount, 0);
});

void test('the games list replaces the jackpot links', async () => {
  stored(await put(eu('links', { games: ['l1', 'l2'] })));
  const jackpot = stored(await put(eu('links', { games: ['l3', 'l2'] }), T1));
  assert.deepEqual(jackpot.games, ['l2', 'l3']);
  const all = await db.pool.query<{ game_id: string }>(
    `SELECT game_id FROM jackpot.games WHERE game_id LIKE 'l_' ORDER BY 1`,
  );
  assert.deepEqual(
    all.rows.map((r) => r.game_id),
    ['l2', 'l3'],
    'l1 is free for another jackpot',
  );
  stored(await put(eu('links2', { games: ['l1'] })));
});

void test('two concurrent PUTs of different jackpots claiming one game: exactly one wins', async () => {
  const results = await Promise.all([
    put(eu('race1', { games: ['contested'] })),
    put(eu('race2', { games: ['contested'] })),
  ]);
  assert.deepEqual(results.map((r) => r.ok).sort(), [false, true]);
  const owner = await db.pool.query<{ jackpot_id: string }>(
    `SELECT jackpot_id FROM jackpot.games WHERE game_id = 'contested'`,
  );
  const winner = results[0]?.ok === true ? 'race1' : 'race2';
  assert.deepEqual(owner.rows, [{ jackpot_id: winner }]);
});

void test('two concurrent PUTs creating the same jackpot both succeed, one creates it', async () => {
  const results = await Promise.all([put(eu('twin')), put(eu('twin'))]);
  assert.deepEqual(results.map((r) => r.ok && r.created).sort(), [false, true]);
  assert.equal((await totals('twin')).length, 2);
});
