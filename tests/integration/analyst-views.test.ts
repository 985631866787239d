/**
 * Migration 0008's analyst objects on a fresh database: jackpot.pool_hourly adds up the ledger,
 * the wins and the archived days exactly, in UTC hours whatever the session's zone, and
 * jackpot_analyst may read it and jackpot.wins_recent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();

await db.pool.query(`
  INSERT INTO jackpot.jackpots (jackpot_id, currency) VALUES ('eu', 'EUR');
  INSERT INTO jackpot.pools (pool_id, jackpot_id, tier, seed_minor, contribution_ppm) VALUES ('eu:mini', 'eu', 'mini', 100, 10000), ('eu:grand', 'eu', 'grand', 100, 10000);
  INSERT INTO jackpot.contributions (event_id, pool_id, cycle, wager_minor, contribution_micro, overflow_micro, reserve_micro, occurred_at, game_id, player_id) VALUES
    ('00000000-0000-4000-8000-000000000001', 'eu:mini',  1, 100, 1000000, 0, 10, '2026-01-01T09:00:00Z',        'g1', 'p1'),
    ('00000000-0000-4000-8000-000000000002', 'eu:mini',  1, 300, 3000000, 5, 30, '2026-01-01T09:59:59.999999Z', 'g1', 'p2'),
    ('00000000-0000-4000-8000-000000000003', 'eu:mini',  1, 200, 2000000, 0, 20, '2026-01-01T09:30:00Z',        'g2', 'p1'),
    ('00000000-0000-4000-8000-000000000004', 'eu:grand', 1, 100, 9999999999999, 0, 0, '2026-01-01T10:00:00Z',   'g1', 'p1'),
    ('00000000-0000-4000-8000-000000000005', 'eu:mini',  1, 100, 1000000, 0, 10, '2026-01-01T12:00:00Z',        'g1', 'p3');
  INSERT INTO jackpot.wins (win_id, pool_id, cycle, kind, amount_minor, game_id, player_id, won_at) VALUES
    ('00000000-0000-4000-9000-000000000001', 'eu:mini',  1, 'mystery', 700, 'g1', 'p2', '2026-01-01T09:45:00Z'),
    ('00000000-0000-4000-9000-000000000002', 'eu:grand', 1, 'claim',   900, 'g3', 'p9', '2026-01-01T11:15:00Z'),
    ('00000000-0000-4000-9000-000000000003', 'eu:mini',  2, 'claim',    50, 'g1', 'p4', now() - interval '1 hour'),
    ('00000000-0000-4000-9000-000000000004', 'eu:mini',  3, 'claim',    60, 'g1', 'p5', now() - interval '31 days');
  INSERT INTO jackpot.ledger_rollups (pool_id, cycle, day, rows, contribution_micro, overflow_micro, reserve_micro) VALUES
    ('eu:mini', 1, '2025-12-31', 10, 100, 1, 2), ('eu:mini', 2, '2025-12-31', 5, 50, 0, 1), ('eu:grand', 1, '2025-12-30', 1, 1, 0, 0);
`);

interface HourRow {
  hour: string;
  pool_id: string;
  game_id: string | null;
  wagers: string;
  wagered_minor: string | null;
  contribution_micro: string;
  overflow_micro: string;
  reserve_micro: string;
  wins: string;
  won_minor: string;
  archived: boolean;
}

async function hourly(sql: string, setup = ''): Promise<HourRow[]> {
  const client = await db.pool.connect();
  try {
    if (setup !== '') await client.query(setup);
    const r = await client.query<HourRow>(
      `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') AS hour, pool_id, game_id, wagers::text, wagered_minor::text,
              contribution_micro::text, overflow_micro::text, reserve_micro::text, wins::text, won_minor::text, archived
       FROM ${sql} ORDER BY hour, pool_id, game_id`,
    );
    return r.rows;
  } finally {
    await client.query('RESET ROLE; RESET TimeZone').catch(() => undefined);
    client.release();
  }
}

const h = (hour: string, pool_id: string, game_id: string | null, n: Partial<HourRow>): HourRow => ({
  hour,
  pool_id,
  game_id,
  wagers: '0',
  wagered_minor: '0',
  contribution_micro: '0',
  overflow_micro: '0',
  reserve_micro: '0',
  wins: '0',
  won_minor: '0',
  archived: false,
  ...n,
});

void test('pool_hourly: per UTC hour, pool and game, the ledger sums and the wins, exactly, in any session zone', async () => {
  const expected = [
    h('2026-01-01T09:00Z', 'eu:mini', 'g1', {
      wagers: '2',
      wagered_minor: '400',
      contribution_micro: '4000000',
      overflow_micro: '5',
      reserve_micro: '40',
      wins: '1',
      won_minor: '700',
    }),
    h('2026-01-01T09:00Z', 'eu:mini', 'g2', {
      wagers: '1',
      wagered_minor: '200',
      contribution_micro: '2000000',
      reserve_micro: '20',
    }),
    h('2026-01-01T10:00Z', 'eu:grand', 'g1', {
      wagers: '1',
      wagered_minor: '100',
      contribution_micro: '9999999999999',
    }),
    h('2026-01-01T11:00Z', 'eu:grand', 'g3', { wins: '1', won_minor: '900' }),
  ];
  const range = `jackpot.pool_hourly('2026-01-01T09:00:00Z', '2026-01-01T12:00:00Z')`;
  assert.deepEqual(await hourly(range), expected, '[from, to): 12:00 is out');
  // +05:30 and +13:45: a local date_trunc would cut hours at :30 and :15.
  assert.deepEqual(await hourly(range, `SET TimeZone = 'Asia/Kolkata'`), expected);
  assert.deepEqual(await hourly(range, `SET TimeZone = 'Pacific/Chatham'`), expected);
  assert.deepEqual(
    await hourly(`jackpot.pool_hourly('2026-01-01T09:00:00Z', '2026-01-01T12:00:00Z', 'eu:grand')`),
    expected.filter((r) => r.pool_id === 'eu:grand'),
  );
});

void test('pool_hourly: a dropped ledger day comes from ledger_rollups, one row per pool, marked archived', async () => {
  assert.deepEqual(await hourly(`jackpot.pool_hourly('2025-12-30T00:00:00Z', '2026-01-01T00:00:00Z')`), [
    h('2025-12-30T00:00Z', 'eu:grand', null, {
      wagers: '1',
      wagered_minor: null,
      contribution_micro: '1',
      archived: true,
    }),
    h('2025-12-31T00:00Z', 'eu:mini', null, {
      wagers: '15',
      wagered_minor: null,
      contribution_micro: '150',
      overflow_micro: '1',
      reserve_micro: '3',
      archived: true,
    }),
  ]);
  const partial = await hourly(
    `jackpot.pool_hourly('2025-12-31T12:00:00Z', '2025-12-31T13:00:00Z', 'eu:mini')`,
  );
  assert.equal(partial.length, 1, 'a range touching a dropped day counts the whole day');
});

void test('jackpot_analyst reads pool_hourly and wins_recent (the last 30 days, newest first)', async () => {
  const asAnalyst = `SET ROLE jackpot_analyst`;
  assert.equal(
    (await hourly(`jackpot.pool_hourly('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')`, asAnalyst)).length,
    5,
  );
  const client = await db.pool.connect();
  try {
    await client.query(asAnalyst);
    const recent = await client.query<{ win_id: string; tier: string; currency: string }>(
      'SELECT win_id, tier, currency FROM jackpot.wins_recent',
    );
    assert.deepEqual(recent.rows, [
      { win_id: '00000000-0000-4000-9000-000000000003', tier: 'mini', currency: 'EUR' },
    ]);
    await assert.rejects(client.query('SELECT * FROM jackpot.pool_triggers'), { code: '42501' });
  } finally {
    await client.query('RESET ROLE');
    client.release();
  }
});
