import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiKeyIdentity } from '../../../../shared/src/api-keys.js';
import { bearerToken, createKeyVerifier } from '../../../../services/ingest/src/auth.js';

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

const ID: ApiKeyIdentity = { keyId: 'key_1', role: 'game', name: 'server' };

void test('a verified key is remembered; an unknown one is asked again', async () => {
  const asked: string[] = [];
  const verifier = createKeyVerifier({
    lookup: (key) => {
      asked.push(key);
      return Promise.resolve(key === 'good' ? ID : null);
    },
    ttlSeconds: 30,
  });
  assert.deepEqual(await verifier.verify('good'), ID);
  assert.deepEqual(await verifier.verify('good'), ID);
  assert.equal(await verifier.verify('bad'), null);
  assert.equal(await verifier.verify('bad'), null);
  assert.deepEqual(asked, ['good', 'bad', 'bad']);
  verifier.close();
});

void test('concurrent lookups of one key share one query', async () => {
  let calls = 0;
  let release: (id: ApiKeyIdentity) => void = () => undefined;
  const verifier = createKeyVerifier({
    lookup: () => {
      calls++;
      return new Promise((resolve) => (release = resolve));
    },
    ttlSeconds: 30,
  });
  const all = Promise.all(Array.from({ length: 50 }, () => verifier.verify('good')));
  release(ID);
  assert.deepEqual(
    await all,
    Array.from({ length: 50 }, () => ID),
  );
  assert.equal(calls, 1);
  verifier.close();
});

void test('a failed lookup is reported to every waiter and not remembered', async () => {
  let fail = true;
  const verifier = createKeyVerifier({
    lookup: () => (fail ? Promise.reject(new Error('db down')) : Promise.resolve(ID)),
    ttlSeconds: 30,
  });
  await assert.rejects(Promise.all([verifier.verify('k'), verifier.verify('k')]), /db down/);
  fail = false;
  assert.deepEqual(await verifier.verify('k'), ID);
  verifier.close();
});
