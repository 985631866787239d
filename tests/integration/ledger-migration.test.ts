/**
 * Migrations 0009 (the ledger one row a wager, `jackpot.contributions` a view of it) and 0010 (the
 * hourly rollups) on a database that already holds a ledger written the old way: every row of
 * `jackpot.contributions` (`SELECT *`, every column), the retention's rollups of a day dropped
 * afterwards, and `jackpot.pool_hourly` must read exactly as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMigrations, migrate } from '../../infra/migrate.js';
import { createEmptyTestDatabase } from '../helpers/db.js';

const { url, client } = await createEmptyTestDatabase();

/** Applies the migrations up to and including `last`, as infra/migrate.ts does. */
async function migrateTo(last: number): Promise<void> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS public.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const m of await loadMigrations()) {
    if (m.id > last) break;
    await client.query('BEGIN');
    await client.query(m.sql);
    await client.query('INSERT INTO public.schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
    await client.query('COMMIT');
  }
}

const today = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

await migrateTo(8);
for (const day of [daysAgo(3), daysAgo(1), today])
  await client.query("SELECT jackpot.create_day_partition('contributions', $1::date)", [day]);
await client.query(`
  INSERT INTO jackpot.jackpots (jackpot_id, currency) VALUES ('eu', 'EUR');
  INSERT INTO jackpot.pools (pool_id, jackpot_id, tier, seed_minor, contribution_ppm, reserve_ppm)
    VALUES ('eu:mini', 'eu', 'mini', 100, 10000, 1000), ('eu:grand', 'eu', 'grand', 100, 20000, 0), ('eu:maxi', 'eu', 'maxi', 5, 1, 0);
  INSERT INTO jackpot.wins (win_id, pool_id, cycle, kind, amount_minor, game_id, player_id, won_at) VALUES
    ('00000000-0000-4000-9000-000000000001', 'eu:mini', 1, 'mystery', 700, 'g1', 'p2', '${today}T00:45:00Z'),
    ('00000000-0000-4000-9000-000000000002', 'eu:grand', 1, 'claim', 900, 'g3', 'p9', '${daysAgo(1)}T11:15:00Z');
`);
// Three pools a wager, cycles that differ by pool, fx rates and none, the default partition (an old
// day), one event id applied twice (again after its duplicate check was dropped: two transactions),
// a day retention drops later, and a wager that reached one pool only (its jackpot had one then).
const insert = `INSERT INTO jackpot.contributions (event_id, pool_id, cycle, wager_minor, contribution_micro, reserve_micro, occurred_at,
                  game_id, player_id, applied_at, overflow_micro, wager_currency, fx_rate_micro)
  SELECT e, p.pool_id, p.cycle, w, w * p.ppm, w * p.rppm, t, g, pl, a, CASE WHEN p.pool_id = 'eu:grand' THEN w ELSE 0 END, cur, fx
  FROM (VALUES ('eu:mini', 1, 10000, 1000), ('eu:grand', 2, 20000, 0), ('eu:maxi', 7, 1, 0)) AS p(pool_id, cycle, ppm, rppm),
       (SELECT ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid AS e, (i * 37 % 1000 + 1)::bigint AS w,
               CASE i % 4 WHEN 0 THEN '${today}T00:' || lpad((i % 60)::text, 2, '0') || ':00.123456Z'
                          WHEN 1 THEN '${daysAgo(1)}T23:59:59.9999Z' WHEN 2 THEN '${daysAgo(3)}T05:00:00Z'
                          ELSE '2020-01-01T00:00:00Z' END::timestamptz AS t,
               'g' || (i % 3) AS g, 'p' || i AS pl, now() - (i % 2) * interval '1 day' AS a,
               CASE WHEN i % 5 = 0 THEN 'SEK' ELSE 'EUR' END::char(3) AS cur,
               CASE WHEN i % 5 = 0 THEN 95123 END::bigint AS fx
        FROM generate_series(1, 400) AS i) AS wagers`;
await client.query(insert);
await client.query(`INSERT INTO jackpot.contributions (event_id, pool_id, cycle, wager_minor, contribution_micro, occurred_at, game_id, player_id, applied_at)
  VALUES ('00000000-0000-7000-8000-000000000001', 'eu:mini', 1, 5, 50000, '${today}T01:00:00Z', 'g1', 'p1', now() - interval '30 days'),
         ('00000000-0000-7000-8000-000000009999', 'eu:mini', 1, 9, 90000, '${today}T02:00:00Z', 'g2', 'p1', now())`);

const ledger = async (): Promise<unknown[]> =>
  (
    await client.query<Record<string, unknown>>(
      `SELECT * FROM jackpot.contributions ORDER BY event_id, pool_id, applied_at`,
    )
  ).rows;
const hourly = async (): Promise<unknown[]> =>
  (
    await client.query<Record<string, unknown>>(
      `SELECT * FROM jackpot.pool_hourly('2019-12-31T00:00:00Z', now() + interval '1 day') ORDER BY hour, pool_id, game_id`,
    )
  ).rows;
const types = async (): Promise<unknown[]> =>
  (
    await client.query<Record<string, unknown>>(
      `SELECT attname, format_type(atttypid, atttypmod) AS type, attnum FROM pg_attribute
        WHERE attrelid = 'jackpot.contributions'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    )
  ).rows;

const before = { ledger: await ledger(), hourly: await hourly(), types: await types() };
assert.equal(before.ledger.length, 1202);

await migrate(url);

void test('jackpot.contributions reads exactly as the table it replaced: every row, every column, every type', async () => {
  assert.deepEqual(await types(), before.types);
  assert.deepEqual(await ledger(), before.ledger);
  const rows = await client.query<{ n: number; wagers: number }>(
    'SELECT count(*)::int AS n, sum(cardinality(pool_ids))::int AS wagers FROM jackpot.ledger',
  );
  // 400 wagers of three pools, one applied a second time, one of one pool.
  assert.deepEqual(rows.rows[0], { n: 402, wagers: 1202 });
});

void test('pool_hourly reads the same from the rollups as it did from the ledger', async () => {
  assert.deepEqual(await hourly(), before.hourly);
});

void test('a day dropped by retention after the migrations sums the same shares into ledger_rollups', async () => {
  const day = daysAgo(3);
  const sums = await client.query(
    `SELECT pool_id, cycle, count(*)::bigint AS rows, sum(contribution_micro)::numeric AS contribution_micro,
            sum(overflow_micro)::numeric AS overflow_micro, sum(reserve_micro)::numeric AS reserve_micro
       FROM jackpot.contributions WHERE occurred_at >= $1::date AND occurred_at < $1::date + 1 GROUP BY 1, 2 ORDER BY 1, 2`,
    [day],
  );
  assert.equal(sums.rows.length, 3);
  const dropped = await client.query<{ name: string }>(
    "SELECT jackpot.drop_expired_partitions('ledger', 2) AS name",
  );
  assert.ok(dropped.rows.some((r) => r.name === `ledger_${day.replaceAll('-', '')}`));
  const rollups = await client.query(
    `SELECT pool_id, cycle, rows, contribution_micro, overflow_micro, reserve_micro FROM jackpot.ledger_rollups
      WHERE day = $1::date ORDER BY 1, 2`,
    [day],
  );
  assert.deepEqual(rollups.rows, sums.rows);
  // The hourly rollups outlive the ledger's days: pool_hourly still has that day's hours.
  assert.deepEqual(await hourly(), before.hourly);
});
