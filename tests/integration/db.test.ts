/**
 * The database edge under a server that drops connections (a Postgres restart, an operator's
 * pg_terminate_backend): the services' pools must survive and reconnect.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool, isRetryableDbError, retryDb, withClient } from '../../shared/src/db.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();

void test('an idle connection killed by the server is reported, not an unhandled error that ends the process, and the pool reconnects', async () => {
  const lost: Error[] = [];
  const pool = createPool(db.url, {
    max: 2,
    applicationName: 'idle-kill-test',
    onIdleError: (e) => lost.push(e),
  });
  try {
    const pid = await withClient(
      pool,
      async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid,
    );
    assert.equal(pool.idleCount, 1, 'the connection went back to the pool');
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    for (let i = 0; i < 50 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(lost.length, 1, 'the loss was reported');
    assert.match(lost[0]?.message ?? '', /terminat/);
    const again = await retryDb(() =>
      withClient(pool, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one),
    );
    assert.equal(again, 1, 'the next query connects anew');
  } finally {
    await pool.end();
  }
});

void test('a connection killed while checked out (in a transaction) fails the work with a retryable error and does not end the process', async () => {
  const pool = createPool(db.url, { max: 2, applicationName: 'busy-kill-test' });
  try {
    const work = withClient(pool, async (c) => {
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await c.query('BEGIN');
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      // The socket error arrives between two statements, with no query in flight.
      await new Promise((r) => setTimeout(r, 200));
      await c.query('SELECT 1');
    });
    const err = await work.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.ok(err !== undefined, 'the work failed');
    assert.ok(isRetryableDbError(err), `retryable: ${err.message}`);
    const again = await retryDb(() =>
      withClient(pool, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one),
    );
    assert.equal(again, 1, 'the pool goes on with a new connection');
  } finally {
    await pool.end();
  }
});

void test("the services' sessions run without JIT (a window's statements compiled anew cost up to a second each)", async () => {
  const pool = createPool(db.url, { max: 1, applicationName: 'jit-test' });
  try {
    const { rows } = await pool.query<{ jit: string }>('SHOW jit');
    assert.equal(rows[0]?.jit, 'off');
  } finally {
    await pool.end();
  }
});
