import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiKey, hashApiKey, verifyApiKey } from '../../shared/src/api-keys.js';
import { AppError } from '../../shared/src/errors.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();

void test('a created key verifies to its id, role and name; only its hash is stored', async () => {
  const admin = await createApiKey(db.pool, { role: 'admin', name: 'ops laptop' });
  const game = await createApiKey(db.pool, { role: 'game', name: 'studio-x eu-west-1' });
  assert.match(admin.key, /^jk_admin_[A-Za-z0-9_-]{43}$/);
  assert.match(game.key, /^jk_game_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(admin.keyId, game.keyId);

  assert.deepEqual(await verifyApiKey(db.pool, admin.key), {
    keyId: admin.keyId,
    role: 'admin',
    name: 'ops laptop',
  });
  assert.deepEqual(await verifyApiKey(db.pool, game.key), {
    keyId: game.keyId,
    role: 'game',
    name: 'studio-x eu-west-1',
  });

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
  const { keyId, key } = await createApiKey(db.pool, { role: 'game', name: 'to revoke' });
  const altered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
  for (const bad of ['', 'jk_game_', 'Bearer x', altered, key.replace('jk_game_', 'jk_admin_'), `${key} `]) {
    assert.equal(await verifyApiKey(db.pool, bad), null, JSON.stringify(bad));
  }
  await db.pool.query('UPDATE jackpot.api_keys SET revoked_at = now() WHERE key_id = $1', [keyId]);
  assert.equal(await verifyApiKey(db.pool, key), null);
});

void test('a bad role or name is refused before anything is stored', async () => {
  const before = (await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount;
  await assert.rejects(
    createApiKey(db.pool, { role: 'root' as 'admin', name: 'x' }),
    (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT',
  );
  for (const name of ['', '   ', 'a\nb', 'x'.repeat(101)]) {
    await assert.rejects(
      createApiKey(db.pool, { role: 'game', name }),
      (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT',
      JSON.stringify(name),
    );
  }
  assert.equal((await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount, before);
});
