/**
 * Retention on the real database (migration 0007): whole days dropped, the duplicate check kept
 * for the window, the ledger's dropped days still reconciled through their rollups.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { reconcile } from '../../shared/src/domain/reconcile.js';
import { dropExpiredPartitions, ensureDayPartitions } from '../../shared/src/retention.js';
import * as sql from '../../services/aggregator/src/sql.js';
import { loadRecords } from '../../services/cli/src/reconcile.js';
import { createTestDatabase } from '../helpers/db.js';
import { poolMicros, seedJackpot, wager } from '../helpers/fixtures.js';
import { windowWriter } from '../helpers/positions.js';

const db = await createTestDatabase();
const DAY_MS = 86_400_000;
const isoDay = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString().slice(0, 10);
const partitions = async (parent: string): Promise<string[]> =>
  (
    await db.pool.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ('jackpot.' || $1)::regclass ORDER BY 1",
      [parent],
    )
  ).rows.map((r) => r.name);
/** Claims as a window does now: in the week its fence reads from Postgres. */
const claim = async (ids: string[]): Promise<string[]> => {
  const { rows } = await db.pool.query<{ week: string }>(
    "SELECT date_trunc('week', now() AT TIME ZONE 'UTC')::date::text AS week",
  );
  const week = rows[0]?.week ?? assert.fail('no week');
  return (await db.pool.query<{ event_id: string }>(sql.claimEvents(ids, week))).rows.map((r) => r.event_id);
};

await ensureDayPartitions(db.pool, Date.now());
// A new database's legacy partitions (migration 0007) are empty and end in 2000: the first run drops them.
assert.deepEqual(await dropExpiredPartitions(db.pool, { applied_events: 7, dead_letters: 30, ledger: 0 }), [
  'applied_events_legacy',
  'dead_letters_legacy',
]);
await seedJackpot(db.pool, {
  jackpotId: 'ret',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 100, contributionPpm: 25_000, reservePpm: 5_000 }],
  games: ['ret-game'],
});
const writeWindow = await windowWriter(db.pool);

const weekOf = (iso: string): string => {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10).replaceAll('-', '');
};

void test('a partition whose table stays locked (a dump, a long export) is skipped after the lock timeout, not waited for, and made by the next run', async () => {
  const farAhead = Date.now() + 20 * DAY_MS; // days that have no partitions yet (at most 31 ahead)
  const day = new Date(farAhead).toISOString().slice(0, 10).replaceAll('-', '');
  const reader = await db.pool.connect();
  try {
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM jackpot.ledger'); // holds ACCESS SHARE until the end
    const started = Date.now();
    const skipped = await ensureDayPartitions(db.pool, farAhead, 100);
    assert.ok(Date.now() - started < 20_000, 'bounded by the lock timeout');
    assert.ok(
      skipped.some((s) => s.startsWith('ledger ')),
      `the ledger's partitions are skipped: ${skipped.join(', ')}`,
    );
    assert.ok(!(await partitions('ledger')).includes(`ledger_${day}`));
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
  }
  assert.deepEqual(await ensureDayPartitions(db.pool, farAhead, 100), []);
  assert.ok((await partitions('ledger')).includes(`ledger_${day}`));
});

void test('partitions exist from yesterday to a week ahead: daily for the ledger and the dead letters, weekly for the duplicate check', async () => {
  for (const parent of ['ledger', 'applied_events', 'dead_letters']) {
    const names = await partitions(parent);
    for (let d = -1; d <= 7; d++) {
      const day = isoDay(-d * DAY_MS);
      const name = `${parent}_${parent === 'applied_events' ? weekOf(day) : day.replaceAll('-', '')}`;
      assert.ok(names.includes(name), `${parent} day ${d}: ${name}`);
    }
    assert.ok(names.includes(`${parent}_default`), `${parent} has a default partition`);
  }
});

void test('an id claimed weeks ago is still a duplicate within the window, and forgotten once its week is dropped', async () => {
  const day = isoDay(14 * DAY_MS);
  const week = weekOf(day);
  await db.pool.query("SELECT jackpot.create_day_partition('applied_events', $1::date)", [day]);
  const old = randomUUID();
  await db.pool.query(
    "INSERT INTO jackpot.applied_events (event_id, claimed_week) VALUES ($1, date_trunc('week', $2::date)::date)",
    [old, day],
  );
  const fresh = randomUUID();
  assert.deepEqual(await claim([old, fresh].sort()), [old], 'the id claimed 2 weeks ago counts as claimed');
  assert.deepEqual(await claim([fresh]), [fresh], "and this week's claim too");

  // Its week ended between 7 and 13 days ago: kept with 20 days, dropped with 3.
  assert.deepEqual(
    await dropExpiredPartitions(db.pool, { applied_events: 20, dead_letters: 0, ledger: 0 }),
    [],
    'kept 20 days: nothing to drop',
  );
  const dropped = await dropExpiredPartitions(db.pool, {
    applied_events: 3,
    dead_letters: 0,
    ledger: 0,
  });
  assert.deepEqual(dropped, [`applied_events_${week}`]);
  assert.deepEqual(await claim([old]), [], 'past the window the id is claimable again');
  await assert.rejects(
    db.pool.query("SELECT jackpot.drop_expired_partitions('applied_events', 0)"),
    /keep_days must be at least 1/,
  );
});

void test('dropped ledger days are summed into rollups first: pool totals and reconcile are unchanged', async () => {
  const day = isoDay(5 * DAY_MS);
  // 'contributions', the ledger's name before migration 0009, still means the ledger.
  await db.pool.query("SELECT jackpot.create_day_partition('contributions', $1::date)", [day]);
  const outcome = await writeWindow(
    [1, 2, 3, 4].map((i) => ({
      key: null,
      value: Buffer.from(
        JSON.stringify({
          ...wager({ gameId: 'ret-game', playerId: `p${i}`, amountMinor: 1_000 + i }),
          occurredAt: `${day}T12:00:0${i}.000Z`,
        }),
      ),
    })),
  );
  assert.equal(outcome.applied, 4);
  const before = await poolMicros(db.pool);
  const rows = async () =>
    Number(
      (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.contributions')).rows[0]?.n,
    );
  assert.equal(await rows(), 4);

  const dropped = await dropExpiredPartitions(db.pool, {
    applied_events: 30,
    dead_letters: 0,
    ledger: 3,
  });
  assert.deepEqual(dropped, [`ledger_${day.replaceAll('-', '')}`]);
  assert.equal(await rows(), 0, 'the rows of that day are gone');
  const rollups = await db.pool.query<{ rows: string; c: string }>(
    "SELECT rows::text, contribution_micro::text AS c FROM jackpot.ledger_rollups WHERE pool_id = 'ret:main'",
  );
  assert.deepEqual(rollups.rows, [{ rows: '4', c: String((1_001 + 1_002 + 1_003 + 1_004) * 25_000) }]);
  assert.deepEqual(await poolMicros(db.pool), before);
  const client = await db.pool.connect();
  try {
    const { pools, cycles } = await loadRecords(client);
    assert.deepEqual(reconcile(pools, cycles).findings, [], 'reconcile still holds');
  } finally {
    client.release();
  }
});

void test('dead letters go by the day they were received; the newest stay, with their outbox columns', async () => {
  const day = isoDay(10 * DAY_MS);
  await db.pool.query("SELECT jackpot.create_day_partition('dead_letters', $1::date)", [day]);
  const insert = (receivedAt: string, offset: number) =>
    db.pool.query(
      "INSERT INTO jackpot.dead_letters (reason, message, topic, kafka_partition, kafka_offset, payload, received_at) VALUES ('malformed_json', 'x', 't', 0, $1, '\\x00', $2)",
      [offset, receivedAt],
    );
  await insert(`${day}T08:00:00Z`, 1);
  await insert(new Date().toISOString(), 2);
  const dropped = await dropExpiredPartitions(db.pool, {
    applied_events: 30,
    dead_letters: 7,
    ledger: 0,
  });
  assert.deepEqual(dropped, [`dead_letters_${day.replaceAll('-', '')}`]);
  const left = await db.pool.query<{ kafka_offset: string; published_at: Date | null }>(
    'SELECT kafka_offset::text, published_at FROM jackpot.dead_letters ORDER BY id',
  );
  assert.deepEqual(
    left.rows.map((r) => r.kafka_offset),
    ['2'],
  );
  // The id sequence survives dropping partitions (it belongs to the parent).
  await insert(new Date().toISOString(), 3);
});
