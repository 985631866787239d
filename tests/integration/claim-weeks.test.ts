/**
 * The duplicate check across midnight between Sunday and Monday UTC, on the real database: two
 * transactions claiming one event id, one in each week (the id under two Kafka keys, so two
 * windows at once), must not both win. The weeks are passed in, as the window passes what
 * `claimWeeks` made of its fence's `now()`: this week and last week stand in for Monday and
 * Sunday.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type pg from 'pg';
import { claimWeeks } from '../../shared/src/domain/index.js';
import { ensureDayPartitions } from '../../shared/src/retention.js';
import * as sql from '../../services/aggregator/src/sql.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();
await ensureDayPartitions(db.pool, Date.now());
const { week: monday } = claimWeeks(Date.now(), 0);
const sunday = new Date(Date.parse(`${monday}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
const { week: lastWeek } = claimWeeks(Date.parse(`${sunday}T23:59:59Z`), 0);

/** A transaction that has claimed `ids` and not committed yet; returns the ids it found taken. */
async function claimOpen(
  ids: string[],
  week: string,
  alsoWeek: string | null = null,
): Promise<{ client: pg.PoolClient; taken: Promise<string[]> }> {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  const taken = client
    .query<{ event_id: string }>(sql.claimEvents(ids, week, alsoWeek))
    .then((r) => r.rows.map((x) => x.event_id));
  return { client, taken };
}

async function end(c: { client: pg.PoolClient }, how: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  await c.client.query(how);
  c.client.release();
}

/** Whether a statement is waiting (for a row lock): it has not answered within `ms`. */
async function waiting(p: Promise<unknown>, ms = 300): Promise<boolean> {
  return Promise.race([p.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))]);
}

void test('the fence’s now() and claimWeeks agree with Postgres on the week', async () => {
  const { rows } = await db.pool.query<{ now_ms: string; week: string }>(
    `SELECT floor(extract(epoch FROM now()) * 1000)::bigint::text AS now_ms,
            date_trunc('week', now() AT TIME ZONE 'UTC')::date::text AS week`,
  );
  const r = rows[0] ?? assert.fail('no row');
  assert.equal(claimWeeks(Number(r.now_ms), 0).week, r.week);
  assert.equal(
    lastWeek,
    new Date(Date.parse(`${monday}T00:00:00Z`) - 7 * 86_400_000).toISOString().slice(0, 10),
  );
});

void test('without the week before, a Sunday claim and a Monday claim of one id both win (the hole)', async () => {
  const id = randomUUID();
  const sun = await claimOpen([id], lastWeek);
  const mon = await claimOpen([id], monday);
  assert.deepEqual(await mon.taken, [], 'the Monday claim does not see the uncommitted Sunday one');
  await end(sun, 'COMMIT');
  await end(mon, 'COMMIT');
  assert.deepEqual(await sun.taken, []);
});

void test('a Monday claim in the grace hour waits for a Sunday claim of the same id and finds it', async () => {
  const id = randomUUID();
  const other = randomUUID();
  const sun = await claimOpen([id], lastWeek);
  assert.deepEqual(await sun.taken, []);
  const mon = await claimOpen([other, id].sort(), monday, lastWeek);
  assert.ok(await waiting(mon.taken), 'the Monday claim waits on the Sunday claim’s key');
  await end(sun, 'COMMIT');
  assert.deepEqual(await mon.taken, [id], 'taken on Sunday: a duplicate on Monday');
  await end(mon, 'COMMIT');
});

void test('a later Monday claim waits for a grace-hour claim of the same id and finds it', async () => {
  const id = randomUUID();
  const early = await claimOpen([id], monday, lastWeek);
  assert.deepEqual(await early.taken, []);
  const late = await claimOpen([id], monday);
  assert.ok(await waiting(late.taken));
  await end(early, 'COMMIT');
  assert.deepEqual(await late.taken, [id]);
  await end(late, 'COMMIT');
});

void test('in the grace hour: a rolled-back Sunday claim leaves the id free; one committed last week is found', async () => {
  const id = randomUUID();
  const sun = await claimOpen([id], lastWeek);
  // The Sunday claim must have run before the Monday one starts: otherwise the Monday claim can
  // take the key first and the Sunday claim waits on it, with its ROLLBACK queued behind it.
  assert.deepEqual(await sun.taken, []);
  const mon = await claimOpen([id], monday, lastWeek);
  assert.ok(await waiting(mon.taken), 'the Monday claim waits on the Sunday claim’s key');
  await end(sun, 'ROLLBACK');
  assert.deepEqual(await mon.taken, [], 'the Sunday window failed: the id is Monday’s');
  await end(mon, 'COMMIT');

  const old = randomUUID();
  const before = await claimOpen([old], lastWeek);
  await end(before, 'COMMIT');
  const again = await claimOpen([old, randomUUID()], monday, lastWeek);
  assert.deepEqual(await again.taken, [old]);
  await end(again, 'COMMIT');
  // And claimed this week already (earlier in the hour): found as well.
  const twice = await claimOpen([id], monday, lastWeek);
  assert.deepEqual(await twice.taken, [id]);
  await end(twice, 'ROLLBACK');
});
