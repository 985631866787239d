import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResyncer, type ResyncTrigger } from '../../../../services/projector/src/resync.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

void test('requests during a read collapse into one more read', async () => {
  const runs: ResyncTrigger[] = [];
  const gates: Array<() => void> = [];
  const resyncer = createResyncer({
    intervalMs: 60_000,
    run: (trigger) => {
      runs.push(trigger);
      const d = deferred();
      gates.push(d.resolve);
      return d.promise;
    },
    onError: () => assert.fail('no error expected'),
  });
  resyncer.request('unknown_pool');
  resyncer.request('unknown_pool');
  resyncer.request('rejoin');
  resyncer.request('unknown_pool');
  assert.deepEqual(runs, ['unknown_pool'], 'one read at a time');
  gates.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(runs, ['unknown_pool', 'unknown_pool'], 'then exactly one more');
  gates.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs.length, 2);
  await resyncer.stop();
});

void test('the timer reads again intervalMs after each read; a failure is reported and the timer goes on', async () => {
  const runs: ResyncTrigger[] = [];
  const errors: string[] = [];
  let fail = true;
  const resyncer = createResyncer({
    intervalMs: 20,
    run: (trigger) => {
      runs.push(trigger);
      if (fail) {
        fail = false;
        return Promise.reject(new Error('database down'));
      }
      return Promise.resolve();
    },
    onError: (e) => errors.push(e.message),
  });
  resyncer.start();
  await new Promise((r) => setTimeout(r, 150));
  await resyncer.stop();
  const count = runs.length;
  assert.ok(count >= 3, `several timer reads, got ${count}`);
  assert.ok(runs.every((t) => t === 'timer'));
  assert.deepEqual(errors, ['database down']);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(runs.length, count, 'nothing runs after stop');
  resyncer.request('unknown_pool');
  assert.equal(runs.length, count, 'requests after stop are ignored');
});

void test('stop waits for the read in progress', async () => {
  const d = deferred();
  let finished = false;
  const resyncer = createResyncer({
    intervalMs: 60_000,
    run: async () => {
      await d.promise;
      finished = true;
    },
    onError: () => undefined,
  });
  resyncer.request('start');
  const stopping = resyncer.stop();
  d.resolve();
  await stopping;
  assert.equal(finished, true);
});
