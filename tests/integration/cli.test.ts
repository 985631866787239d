/**
 * `npm run jackpot -- …` as an operator runs it: a child process against a fresh database.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { verifyApiKey } from '../../shared/src/api-keys.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMEOUT = 60_000;

function jackpot(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

void test(
  'keys create prints the key alone as the last line, and the key works',
  { timeout: TIMEOUT },
  async () => {
    for (const role of ['game', 'admin'] as const) {
      const r = await jackpot(['keys', 'create', '--role', role, '--name', `ops ${role}`]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      const key = lines.at(-1) ?? '';
      assert.match(key, new RegExp(`^jk_${role}_[A-Za-z0-9_-]{43}$`));
      assert.match(r.stderr, /shown once/);
      const identity = await verifyApiKey(db.pool, key);
      assert.equal(identity?.role, role);
      assert.equal(identity?.name, `ops ${role}`);
    }
    const eq = await jackpot(['keys', 'create', '--role=game', '--name=with equals']);
    assert.equal(eq.code, 0, eq.stderr);
  },
);

void test('bad usage prints usage and exits 2 without creating anything', { timeout: TIMEOUT }, async () => {
  const before = (await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount;
  for (const args of [
    [],
    ['nope'],
    ['keys'],
    ['keys', 'create'],
    ['keys', 'create', '--role', 'root', '--name', 'x'],
    ['keys', 'create', '--role', 'game'],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--colour', 'red'],
    ['keys', 'create', '--role', 'game', '--name'],
    ['keys', 'create', '--role', 'game', '--role', 'admin', '--name', 'x'],
    ['keys', 'create', '--role', 'game', '--name', 'x', 'extra'],
    ['keys', 'create', '--role', 'game', '--name', ''],
  ]) {
    const r = await jackpot(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: npm run jackpot --/, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
  assert.equal((await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount, before);
});

void test('an unreachable database fails with exit 1 and a message', { timeout: TIMEOUT }, async () => {
  const r = await jackpot(['keys', 'create', '--role', 'game', '--name', 'x'], {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^jackpot: /m);
  assert.equal(r.stdout, '');
});

void test('jackpots put/get, fx set/list, meters and reconcile as an operator runs them', { timeout: TIMEOUT }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jackpot-cli-'));
  const file = join(dir, 'eu.json');
  await writeFile(file, JSON.stringify({ currency: 'EUR', pools: [{ tier: 'mini', seedMinor: 250, contributionPpm: 1_000 }], games: ['cli-game'] }));
  const put = await jackpot(['jackpots', 'put', '--id', 'cli-eu', '--file', file]);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stderr, /created jackpot cli-eu/);
  assert.equal((JSON.parse(put.stdout) as { jackpotId: string }).jackpotId, 'cli-eu');
  const audit = await db.pool.query<{ actor: string }>("SELECT actor FROM jackpot.config_audit WHERE subject = 'jackpot:cli-eu'");
  assert.match(audit.rows[0]?.actor ?? '', /^cli:/);

  await writeFile(file, JSON.stringify({ currency: 'EUR', pools: [{ tier: 'mini', seedMinor: 250, contributionPpm: 2_000_000 }], games: [] }));
  const bad = await jackpot(['jackpots', 'put', '--id', 'cli-eu', '--file', file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /contributionPpm/);

  const get = await jackpot(['jackpots', 'get', '--id', 'cli-eu']);
  assert.equal(get.code, 0, get.stderr);
  assert.equal((await jackpot(['jackpots', 'get', '--id', 'nope'])).code, 1);

  assert.equal((await jackpot(['fx', 'set', '--from', 'USD', '--to', 'EUR', '--rate-micro', '920000'])).code, 0);
  assert.equal((await jackpot(['fx', 'set', '--from', 'USD', '--to', 'USD', '--rate-micro', '1'])).code, 2);
  assert.match((await jackpot(['fx', 'list'])).stdout, /USD>EUR {2}920000/);

  const meters = await jackpot(['meters', '--pool', 'cli-eu:mini']);
  assert.equal(meters.code, 0, meters.stderr);
  assert.match(meters.stdout, /cli-eu:mini +1 +250\.000000/);

  const rec = await jackpot(['reconcile']);
  assert.equal(rec.code, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, /every invariant holds/);
  // Break an invariant behind the pipeline's back: reconcile must notice and fail.
  await db.pool.query("UPDATE jackpot.pool_totals SET amount_micro = amount_micro + 1 WHERE pool_id = 'cli-eu:mini'");
  const broken = await jackpot(['reconcile']);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /MISMATCH cli-eu:mini cycle 1: amount = seed \+ carried in \+ ledger contributions/);
});
