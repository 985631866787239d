/**
 * `npm run jackpot -- …` as an operator runs it: a child process against a fresh database.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashApiKey, verifyApiKey } from '../../shared/src/api-keys.js';
import { createTestDatabase } from '../helpers/db.js';
import { randomGroupId, randomTopic } from '../helpers/kafka.js';
import { positionPartitions } from '../helpers/positions.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const db = await createTestDatabase();
const TIMEOUT = 60_000;

const jackpot = (args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> =>
  runCli(args, { DATABASE_URL: db.url, ...env });

void test(
  'keys create prints the key alone as the last line, with the scope asked for, and the key works',
  { timeout: TIMEOUT },
  async () => {
    const cases = [
      {
        args: ['--role', 'game', '--name', 'ops game', '--jackpots', 'eu-main,eu-side'],
        role: 'game',
        jackpots: ['eu-main', 'eu-side'],
      },
      { args: ['--role', 'game', '--name', 'ops all', '--all-jackpots'], role: 'game', jackpots: 'all' },
      { args: ['--role', 'admin', '--name', 'ops admin'], role: 'admin', jackpots: [] },
      {
        args: ['--role=game', '--name=with equals', '--jackpots=eu-main'],
        role: 'game',
        jackpots: ['eu-main'],
      },
    ] as const;
    for (const c of cases) {
      const r = await jackpot(['keys', 'create', ...c.args]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      const key = lines.at(-1) ?? '';
      assert.match(key, new RegExp(`^jk_${c.role}_[A-Za-z0-9_-]{43}$`));
      assert.match(r.stderr, /shown once/);
      const identity = await verifyApiKey(db.pool, key);
      assert.equal(identity?.role, c.role);
      assert.deepEqual(identity?.jackpots, c.jackpots, c.args.join(' '));
    }
    const typo = await jackpot([
      'keys',
      'create',
      '--role',
      'game',
      '--name',
      'typo',
      '--jackpots',
      'eu-mian',
    ]);
    assert.equal(typo.code, 0, 'a key may be made before its jackpot');
    assert.match(typo.stderr, /warning: no jackpot eu-mian configured yet/);
  },
);

void test(
  'keys list shows one line a key with id, role, name, scope, created and revoked, never the key; keys revoke refuses it',
  { timeout: TIMEOUT },
  async () => {
    const created = await jackpot([
      'keys',
      'create',
      '--role',
      'game',
      '--name',
      'studio x server',
      '--jackpots',
      'list-a,list-b',
    ]);
    const key = created.stdout.trimEnd().split('\n').at(-1) ?? '';
    const keyId = /created game key (key_[0-9a-f]{16})/.exec(created.stderr)?.[1] ?? '';
    assert.match(keyId, /^key_[0-9a-f]{16}$/, created.stderr);

    const list = await jackpot(['keys', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.equal(
      lines.length,
      (await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount,
      'one line a key',
    );
    const line = lines.find((l) => l.startsWith(`${keyId} `)) ?? '';
    assert.match(
      line,
      /^key_[0-9a-f]{16} {2}game {2}name="studio x server" {2}scope=list-a,list-b {2}created=\d{4}-\d\d-\d\dT[\d:.]+Z {2}revoked=no$/,
    );
    assert.ok(
      lines.some((l) => / {2}admin {2}.* {2}scope=\(admin endpoints\) /.test(l)),
      'admin keys are listed with their scope',
    );
    assert.ok(
      lines.some((l) => / {2}scope=\(all jackpots\) /.test(l)),
      'unscoped keys say so',
    );
    assert.ok(
      !list.stdout.includes(key) && !list.stdout.includes(hashApiKey(key)),
      'never the key, nor its hash',
    );

    const revoked = await jackpot(['keys', 'revoke', keyId]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${keyId} \\(studio x server\\)`));
    assert.equal(await verifyApiKey(db.pool, key), null);
    const after = await jackpot(['keys', 'list']);
    assert.match(after.stdout, new RegExp(`^${keyId} .* {2}revoked=\\d{4}-[\\d:.T-]+Z$`, 'm'));
    const again = await jackpot(['keys', 'revoke', keyId]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already revoked/);
    const unknown = await jackpot(['keys', 'revoke', 'key_0000000000000000']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no key key_0000000000000000/);
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
    // A game key states its scope, exactly once; an admin key has none.
    ['keys', 'create', '--role', 'game', '--name', 'x'],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--jackpots', 'a', '--all-jackpots'],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--all-jackpots=yes'],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--jackpots', ''],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--jackpots', 'a,,b'],
    ['keys', 'create', '--role', 'game', '--name', 'x', '--jackpots', 'eu main'],
    ['keys', 'create', '--role', 'admin', '--name', 'x', '--jackpots', 'a'],
    ['keys', 'create', '--role', 'admin', '--name', 'x', '--all-jackpots'],
    ['keys', 'list', 'extra'],
    ['keys', 'revoke'],
    ['keys', 'revoke', 'not-a-key-id'],
    ['keys', 'revoke', 'key_0000000000000000', 'key_0000000000000001'],
  ]) {
    const r = await jackpot(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: npm run jackpot --/, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
  assert.equal((await db.pool.query('SELECT 1 FROM jackpot.api_keys')).rowCount, before);
});

void test('an unreachable database fails with exit 1 and a message', { timeout: TIMEOUT }, async () => {
  const r = await jackpot(['keys', 'create', '--role', 'game', '--name', 'x', '--all-jackpots'], {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^jackpot: /m);
  assert.equal(r.stdout, '');
});

void test(
  'jackpots put/get, fx set/list, meters and reconcile as an operator runs them',
  { timeout: TIMEOUT },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jackpot-cli-'));
    const file = join(dir, 'eu.json');
    await writeFile(
      file,
      JSON.stringify({
        currency: 'EUR',
        pools: [{ tier: 'mini', seedMinor: 250, contributionPpm: 1_000 }],
        games: ['cli-game'],
      }),
    );
    const put = await jackpot(['jackpots', 'put', '--id', 'cli-eu', '--file', file]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stderr, /created jackpot cli-eu/);
    assert.equal((JSON.parse(put.stdout) as { jackpotId: string }).jackpotId, 'cli-eu');
    const audit = await db.pool.query<{ actor: string }>(
      "SELECT actor FROM jackpot.config_audit WHERE subject = 'jackpot:cli-eu'",
    );
    assert.match(audit.rows[0]?.actor ?? '', /^cli:/);

    await writeFile(
      file,
      JSON.stringify({
        currency: 'EUR',
        pools: [{ tier: 'mini', seedMinor: 250, contributionPpm: 2_000_000 }],
        games: [],
      }),
    );
    const bad = await jackpot(['jackpots', 'put', '--id', 'cli-eu', '--file', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /contributionPpm/);

    const get = await jackpot(['jackpots', 'get', '--id', 'cli-eu']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal((await jackpot(['jackpots', 'get', '--id', 'nope'])).code, 1);

    assert.equal(
      (await jackpot(['fx', 'set', '--from', 'USD', '--to', 'EUR', '--rate-micro', '920000'])).code,
      0,
    );
    assert.equal((await jackpot(['fx', 'set', '--from', 'USD', '--to', 'USD', '--rate-micro', '1'])).code, 2);
    assert.match((await jackpot(['fx', 'list'])).stdout, /USD>EUR {2}920000/);

    const meters = await jackpot(['meters', '--pool', 'cli-eu:mini']);
    assert.equal(meters.code, 0, meters.stderr);
    assert.match(meters.stdout, /cli-eu:mini +1 +250\.000000/);

    const rec = await jackpot(['reconcile']);
    assert.equal(rec.code, 0, rec.stdout + rec.stderr);
    assert.match(rec.stdout, /every invariant holds/);
    // Break an invariant behind the pipeline's back: reconcile must notice and fail.
    await db.pool.query(
      "UPDATE jackpot.pool_totals SET amount_micro = amount_micro + 1 WHERE pool_id = 'cli-eu:mini'",
    );
    const broken = await jackpot(['reconcile']);
    assert.equal(broken.code, 1);
    assert.match(
      broken.stdout,
      /MISMATCH cli-eu:mini cycle 1: amount = seed \+ carried in \+ ledger contributions/,
    );
  },
);

void test(
  'positions shows refused positions with exit 1; rebase asks for --yes without a terminal, then moves the group onto the topic',
  { timeout: TIMEOUT },
  async () => {
    const topic = await randomTopic('cli-positions', 2);
    const groupId = randomGroupId('cli-positions');
    await positionPartitions(db.pool, {
      groupId,
      topic,
      clusterId: 'an-old-cluster',
      partitions: [0, 1],
      offset: 5_000,
    });

    const shown = await jackpot(['positions', '--group', groupId, '--topic', topic]);
    assert.equal(shown.code, 1, shown.stderr);
    assert.match(shown.stdout, /POSITIONS REFUSED/);
    assert.match(shown.stdout, /stored for Kafka cluster an-old-cluster/);
    assert.match(shown.stdout, /positions rebase --group /);

    const unconfirmed = await jackpot([
      'positions',
      'rebase',
      '--group',
      groupId,
      '--topic',
      topic,
      '--to',
      'earliest',
    ]);
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stderr, /not re-based: confirm with --yes/);
    assert.equal(
      (
        await db.pool.query(
          'SELECT 1 FROM jackpot.consumer_offsets WHERE group_id = $1 AND next_offset = 5000',
          [groupId],
        )
      ).rowCount,
      2,
      'nothing changed',
    );

    assert.equal(
      (
        await jackpot([
          'positions',
          'rebase',
          '--group',
          groupId,
          '--topic',
          topic,
          '--to',
          'sideways',
          '--yes',
        ])
      ).code,
      2,
    );
    const rebased = await jackpot([
      'positions',
      'rebase',
      '--group',
      groupId,
      '--topic',
      topic,
      '--to',
      'earliest',
      '--yes',
    ]);
    assert.equal(rebased.code, 0, rebased.stderr);
    assert.match(rebased.stdout, /re-based .* 0@0 1@0/);
    const after = await jackpot(['positions', '--group', groupId, '--topic', topic]);
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /positions belong to this topic/);
  },
);
