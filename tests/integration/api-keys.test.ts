import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import {
  createApiKey,
  hashApiKey,
  listApiKeys,
  revokeApiKey,
  verifyApiKey,
  type NewApiKey,
} from '../../shared/src/api-keys.js';
import { AppError } from '../../shared/src/errors.js';
import { loadMigrations, migrate } from '../../infra/migrate.js';
import { createEmptyTestDatabase, createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();

void test('a created key verifies to its id, role, name and scope; only its hash is stored', async () => {
  const admin = await createApiKey(db.pool, { role: 'admin', name: 'ops laptop' });
  const game = await createApiKey(db.pool, {
    role: 'game',
    name: 'studio-x eu-west-1',
    jackpots: ['eu-side', 'eu-main', 'eu-side'],
  });
  const all = await createApiKey(db.pool, { role: 'game', name: 'aggregator of studios', jackpots: 'all' });
  assert.match(admin.key, /^jk_admin_[A-Za-z0-9_-]{43}$/);
  assert.match(game.key, /^jk_game_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(admin.keyId, game.keyId);

  assert.deepEqual(await verifyApiKey(db.pool, admin.key), {
    keyId: admin.keyId,
    role: 'admin',
    name: 'ops laptop',
    jackpots: [],
  });
  assert.deepEqual(await verifyApiKey(db.pool, game.key), {
    keyId: game.keyId,
    role: 'game',
    name: 'studio-x eu-west-1',
    jackpots: ['eu-main', 'eu-side'],
  });
  assert.equal((await verifyApiKey(db.pool, all.key))?.jackpots, 'all');

  const rows = await db.pool.query<{ key_id: string; key_hash: string }>(
    'SELECT key_id, key_hash FROM jackpot.api_keys ORDER BY key_id',
  );
  for (const r of rows.rows) {
    assert.match(r.key_hash, /^[0-9a-f]{64}$/);
    assert.ok(r.key_hash !== admin.key && r.key_hash !== game.key);
  }
  assert.ok(rows.rows.some((r) => r.key_hash === hashApiKey(admin.key)));
});

void test('unknown, malformed, altered and revoked keys do not verify', async () => {
  const { keyId, key } = await createApiKey(db.pool, { role: 'game', name: 'to revoke', jackpots: 'all' });
  const altered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
  for (const bad of ['', 'jk_game_', 'Bearer x', altered, key.replace('jk_game_', 'jk_admin_'), `${key} `]) {
    assert.equal(await verifyApiKey(db.pool, bad), null, JSON.stringify(bad));
  }
  const revoked = await revokeApiKey(db.pool, keyId);
  assert.equal(revoked.kind, 'revoked');
  assert.equal(await verifyApiKey(db.pool, key), null);
});

void test('revoking is idempotent and says what it found; list shows every key with scope and revocation, never the key', async () => {
  const game = await createApiKey(db.pool, { role: 'game', name: 'listed game', jackpots: ['b-jp', 'a-jp'] });
  const admin = await createApiKey(db.pool, { role: 'admin', name: 'listed admin' });
  const first = await revokeApiKey(db.pool, game.keyId);
  const again = await revokeApiKey(db.pool, game.keyId);
  if (first.kind !== 'revoked' || again.kind !== 'already_revoked')
    assert.fail(`${first.kind}, then ${again.kind}`);
  assert.equal(again.revokedAt.getTime(), first.revokedAt.getTime(), 'the first revocation time stays');
  assert.equal(again.name, 'listed game');
  assert.deepEqual(await revokeApiKey(db.pool, 'key_0000000000000000'), { kind: 'not_found' });

  const listed = await listApiKeys(db.pool);
  const g = listed.find((k) => k.keyId === game.keyId);
  const a = listed.find((k) => k.keyId === admin.keyId);
  assert.deepEqual(
    [g?.role, g?.name, g?.jackpots, g?.revokedAt instanceof Date],
    ['game', 'listed game', ['a-jp', 'b-jp'], true],
  );
  assert.deepEqual([a?.role, a?.jackpots, a?.revokedAt], ['admin', [], null]);
  assert.ok(a?.createdAt instanceof Date);
  assert.doesNotMatch(JSON.stringify(listed), new RegExp(`${game.key}|${admin.key}|${hashApiKey(game.key)}`));
});

void test('a bad role, name or scope is refused before anything is stored', async () => {
  const before = (await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount;
  const bad: unknown[] = [
    { role: 'root', name: 'x' },
    ...['', '   ', 'a\nb', 'x'.repeat(101)].map((name) => ({ role: 'game', name, jackpots: 'all' })),
    // A game key must say its scope; an admin key has none.
    { role: 'game', name: 'no scope' },
    { role: 'game', name: 'empty scope', jackpots: [] },
    { role: 'game', name: 'bad id', jackpots: ['eu main'] },
    { role: 'game', name: 'bad id', jackpots: ['eu-main', 7] },
    { role: 'game', name: 'too many', jackpots: Array.from({ length: 101 }, (_, i) => `j${i}`) },
    { role: 'admin', name: 'scoped admin', jackpots: ['eu-main'] },
    { role: 'admin', name: 'unscoped admin', jackpots: 'all' },
  ];
  for (const opts of bad) {
    await assert.rejects(
      createApiKey(db.pool, opts as NewApiKey),
      (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT',
      JSON.stringify(opts),
    );
  }
  assert.equal((await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount, before);
});

void test('the schema refuses a key without a stated scope, and a scope on an admin key', async () => {
  const row = () => [`key_${randomBytes(8).toString('hex')}`, randomBytes(32).toString('hex')];
  // The INSERT of code written before scopes: all_jackpots has no default, so it cannot create an
  // unscoped key by accident.
  await assert.rejects(
    db.pool.query(
      "INSERT INTO jackpot.api_keys (key_id, name, role, key_hash) VALUES ($1, 'x', 'game', $2)",
      row(),
    ),
    /all_jackpots/,
  );
  await assert.rejects(
    db.pool.query(
      "INSERT INTO jackpot.api_keys (key_id, name, role, key_hash, all_jackpots) VALUES ($1, 'x', 'admin', $2, true)",
      row(),
    ),
    /api_keys_scope_check/,
  );
  await assert.rejects(
    db.pool.query(
      "INSERT INTO jackpot.api_keys (key_id, name, role, key_hash, all_jackpots, jackpot_ids) VALUES ($1, 'x', 'game', $2, true, '{eu-main}')",
      row(),
    ),
    /api_keys_scope_check/,
  );
});

/** A database at migration 0002 (before scopes), removed after the file. */
async function databaseBeforeScopes(): Promise<{ url: string; client: pg.Client }> {
  const { url, client } = await createEmptyTestDatabase();
  await client.query(
    'CREATE TABLE public.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const m of (await loadMigrations()).filter((m) => m.id <= 2)) {
    await client.query(m.sql);
    await client.query('INSERT INTO public.schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
  }
  return { url, client };
}

void test('keys created before scopes keep working after the migration: game keys for all jackpots', async () => {
  const { url, client } = await databaseBeforeScopes();
  const legacy = {
    game: `jk_game_${'L'.repeat(43)}`,
    admin: `jk_admin_${'M'.repeat(43)}`,
    revoked: `jk_game_${'R'.repeat(43)}`,
  };
  await client.query(
    `INSERT INTO jackpot.api_keys (key_id, name, role, key_hash, revoked_at) VALUES
       ('key_00000000000000a1', 'old game server', 'game', $1, NULL),
       ('key_00000000000000a2', 'old operator', 'admin', $2, NULL),
       ('key_00000000000000a3', 'old revoked', 'game', $3, now())`,
    [hashApiKey(legacy.game), hashApiKey(legacy.admin), hashApiKey(legacy.revoked)],
  );
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    assert.deepEqual(await verifyApiKey(pool, legacy.game), {
      keyId: 'key_00000000000000a1',
      role: 'game',
      name: 'old game server',
      jackpots: 'all',
    });
    assert.deepEqual(await verifyApiKey(pool, legacy.admin), {
      keyId: 'key_00000000000000a2',
      role: 'admin',
      name: 'old operator',
      jackpots: [],
    });
    assert.equal(await verifyApiKey(pool, legacy.revoked), null, 'revoked stays revoked');
  } finally {
    await pool.end();
  }
});
