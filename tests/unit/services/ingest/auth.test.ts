import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiKeyIdentity } from '../../../../shared/src/api-keys.js';
import { bearerToken, createAuthenticator, type AuthResult } from '../../../../services/ingest/src/auth.js';

void test('bearerToken takes the key of a Bearer header only', () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, null],
    ['', null],
    ['Bearer jk_game_abc', 'jk_game_abc'],
    ['bearer jk_game_abc', 'jk_game_abc'],
    ['Bearer   jk_game_abc  ', 'jk_game_abc'],
    ['Basic jk_game_abc', null],
    ['Bearer', null],
    ['Bearer a b', null],
    ['jk_game_abc', null],
  ];
  for (const [header, expected] of cases) assert.equal(bearerToken(header), expected, String(header));
});

const ID: ApiKeyIdentity = { keyId: 'key_1', role: 'game', name: 'server', jackpots: 'all' };
const GOOD = `jk_game_${'G'.repeat(43)}`;
const bad = (i: number): string => `jk_game_${String(i).padStart(43, 'x')}`;
const bearer = (key: string): string => `Bearer ${key}`;

/** An authenticator over a fake key table, on a hand-moved clock, counting lookups. */
function setup(opts: { burst?: number; perSecond?: number; ttlMs?: number } = {}) {
  const clock = { ms: 1_000_000 };
  const asked: string[] = [];
  const valid = new Map<string, ApiKeyIdentity>([[GOOD, ID]]);
  const auth = createAuthenticator({
    trustedKeyTtlMs: opts.ttlMs ?? 4000,
    failures: { perSecond: opts.perSecond ?? 1, burst: opts.burst ?? 3 },
    now: () => clock.ms,
    lookup: (key) => {
      asked.push(key);
      return Promise.resolve(valid.get(key) ?? null);
    },
  });
  return { auth, clock, asked, valid };
}

const status = (r: AuthResult): string => (r.ok ? 'ok' : `${r.status} ${r.reason}`);

void test('a verified key is trusted for the TTL, then asked again; a revoked one is refused after it', async () => {
  const { auth, clock, asked, valid } = setup();
  assert.equal(status(await auth.authenticate(bearer(GOOD), 'a')), 'ok');
  clock.ms += 3999;
  assert.equal(status(await auth.authenticate(bearer(GOOD), 'a')), 'ok');
  assert.equal(asked.length, 1, 'trusted within the TTL');
  valid.delete(GOOD); // revoked
  clock.ms += 1;
  assert.equal(status(await auth.authenticate(bearer(GOOD), 'a')), '401 unknown_key');
  assert.equal(asked.length, 2);
});

void test('an unknown key costs one lookup, however often it is sent', async () => {
  const { auth, asked } = setup({ burst: 100 });
  for (let i = 0; i < 20; i++)
    assert.equal(status(await auth.authenticate(bearer(bad(1)), `a${i}`)), '401 unknown_key');
  assert.deepEqual(asked, [bad(1)]);
});

void test('malformed and missing keys never reach the lookup', async () => {
  const { auth, asked } = setup({ burst: 100 });
  for (const h of [undefined, 'Basic x', 'Bearer jk_game_short', `Bearer ${GOOD}x`]) {
    const r = await auth.authenticate(h, 'a');
    assert.equal(r.ok, false, String(h));
    assert.equal(r.ok ? 0 : r.status, 401);
  }
  assert.equal(asked.length, 0);
});

void test('an address with too many failures gets 429 with Retry-After and no lookup, until its bucket refills', async () => {
  const { auth, asked, clock } = setup({ burst: 3, perSecond: 1 });
  for (let i = 0; i < 3; i++)
    assert.equal(status(await auth.authenticate(bearer(bad(i)), 'a')), '401 unknown_key');
  const limited = await auth.authenticate(bearer(bad(99)), 'a');
  assert.equal(status(limited), '429 too_many_failures');
  assert.equal(limited.ok === false && limited.status === 429 && limited.retryAfterSeconds, 1);
  assert.equal(status(await auth.authenticate(undefined, 'a')), '429 too_many_failures');
  assert.equal(asked.length, 3, 'no lookup once limited');
  assert.equal(
    status(await auth.authenticate(bearer(bad(98)), 'b')),
    '401 unknown_key',
    'other addresses are not affected',
  );
  clock.ms += 1000;
  assert.equal(
    status(await auth.authenticate(bearer(bad(97)), 'a')),
    '401 unknown_key',
    'one token refilled',
  );
});

void test('a key verified before is re-checked even from a limited address; a new good key is not counted as a failure', async () => {
  const { auth, clock, asked, valid } = setup({ burst: 2, perSecond: 1 });
  const other = `jk_game_${'H'.repeat(43)}`;
  valid.set(other, { ...ID, keyId: 'key_2' });
  assert.equal(status(await auth.authenticate(bearer(GOOD), 'nat')), 'ok');
  assert.equal(status(await auth.authenticate(bearer(other), 'nat')), 'ok');
  assert.equal(status(await auth.authenticate(bearer(other), 'nat')), 'ok');
  for (let i = 0; i < 2; i++) await auth.authenticate(bearer(bad(i)), 'nat');
  assert.equal(status(await auth.authenticate(bearer(bad(9)), 'nat')), '429 too_many_failures');
  clock.ms += 5000; // trust expired, but the bucket refilled too: use it up again
  for (let i = 10; i < 12; i++) await auth.authenticate(bearer(bad(i)), 'nat');
  assert.equal(status(await auth.authenticate(bearer(bad(12)), 'nat')), '429 too_many_failures');
  const before = asked.length;
  assert.equal(
    status(await auth.authenticate(bearer(GOOD), 'nat')),
    'ok',
    'a known key is asked again, not limited',
  );
  assert.equal(asked.length, before + 1);
});

void test('concurrent lookups of one key share one query', async () => {
  let calls = 0;
  let release: (id: ApiKeyIdentity) => void = () => undefined;
  const auth = createAuthenticator({
    trustedKeyTtlMs: 4000,
    failures: { perSecond: 1, burst: 100 },
    lookup: () => {
      calls++;
      return new Promise((resolve) => (release = resolve));
    },
  });
  const all = Promise.all(Array.from({ length: 50 }, () => auth.authenticate(bearer(GOOD), 'a')));
  release(ID);
  assert.deepEqual(
    (await all).map(status),
    Array.from({ length: 50 }, () => 'ok'),
  );
  assert.equal(calls, 1);
});

void test('a failed lookup is reported to every waiter, not remembered, and costs the address nothing', async () => {
  let fail = true;
  const auth = createAuthenticator({
    trustedKeyTtlMs: 4000,
    failures: { perSecond: 0.001, burst: 1 },
    lookup: () => (fail ? Promise.reject(new Error('db down')) : Promise.resolve(ID)),
  });
  await assert.rejects(
    Promise.all([auth.authenticate(bearer(GOOD), 'a'), auth.authenticate(bearer(GOOD), 'b')]),
    /db down/,
  );
  fail = false;
  assert.equal(status(await auth.authenticate(bearer(GOOD), 'a')), 'ok');
});

void test('the trust TTL cannot exceed the contract 5 s', () => {
  for (const ttl of [0, 5001]) {
    assert.throws(
      () =>
        createAuthenticator({
          trustedKeyTtlMs: ttl,
          failures: { perSecond: 1, burst: 1 },
          lookup: () => Promise.resolve(null),
        }),
      RangeError,
    );
  }
});
