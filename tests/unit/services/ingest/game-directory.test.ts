import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGameDirectory } from '../../../../services/ingest/src/game-directory.js';

function setup() {
  const clock = { ms: 0 };
  let loads = 0;
  let links = new Map([['g1', 'j1']]);
  let fail = false;
  const directory = createGameDirectory({
    ttlMs: 3000,
    now: () => clock.ms,
    load: () => {
      loads++;
      return fail ? Promise.reject(new Error('db down')) : Promise.resolve(links);
    },
  });
  return {
    directory,
    clock,
    loads: () => loads,
    relink: (m: Map<string, string>) => (links = m),
    failNext: (f: boolean) => (fail = f),
  };
}

void test('the links are read once per TTL, whatever the number of requests', async () => {
  const t = setup();
  for (let i = 0; i < 10; i++) assert.equal((await t.directory.jackpotsByGame()).get('g1'), 'j1');
  assert.equal(t.loads(), 1);
  t.relink(new Map([['g1', 'j2']]));
  t.clock.ms = 2999;
  assert.equal((await t.directory.jackpotsByGame()).get('g1'), 'j1', 'stale within the TTL');
  t.clock.ms = 3000;
  assert.equal((await t.directory.jackpotsByGame()).get('g1'), 'j2');
  assert.equal(t.loads(), 2);
});

void test('concurrent requests share one read; a failed read is not kept', async () => {
  const t = setup();
  await Promise.all(Array.from({ length: 20 }, () => t.directory.jackpotsByGame()));
  assert.equal(t.loads(), 1);
  t.clock.ms = 10_000;
  t.failNext(true);
  await assert.rejects(t.directory.jackpotsByGame(), /db down/);
  t.failNext(false);
  assert.equal((await t.directory.jackpotsByGame()).get('g1'), 'j1');
  assert.equal(t.loads(), 3);
});
