/** The relays' single-flight guard (shared/src/outbox.ts createRelay), with runs the test releases. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRelay } from '../../shared/src/outbox.js';

function controlledRuns() {
  const gates: Array<{ resolve(): void; reject(e: Error): void }> = [];
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  return {
    run: () =>
      new Promise<void>((resolve, reject) => {
        runs += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        const done = () => (running -= 1);
        gates.push({ resolve: () => (done(), resolve()), reject: (e) => (done(), reject(e)) });
      }),
    next: () => gates.shift() ?? assert.fail('no run waiting'),
    get runs() {
      return runs;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

void test('one run at a time; requests during a run share exactly one more run', async () => {
  const runs = controlledRuns();
  const relay = createRelay({ run: runs.run, onError: () => assert.fail('no error expected') });
  const first = relay.request();
  const during = [relay.request(), relay.request(), relay.request()];
  assert.equal(runs.runs, 1);
  let duringSettled = false;
  void Promise.all(during).then(() => (duringSettled = true));

  runs.next().resolve();
  await first;
  await tick();
  assert.equal(runs.runs, 2, 'the three requests made during the first run share one more');
  assert.equal(duringSettled, false, 'they wait for the run that started after them');
  runs.next().resolve();
  await Promise.all(during);
  await relay.idle();
  assert.equal(runs.runs, 2);
  assert.equal(runs.maxRunning, 1);

  // Idle again: the next request runs at once.
  const later = relay.request();
  assert.equal(runs.runs, 3);
  runs.next().resolve();
  await later;
});

void test('a failed run reports its error, never rejects a request, and leaves the retry to the timer', async () => {
  const runs = controlledRuns();
  const errors: string[] = [];
  const relay = createRelay({ run: runs.run, onError: (e) => errors.push(e.message) });
  const first = relay.request();
  const during = relay.request();
  runs.next().reject(new Error('Kafka is down'));
  await first;
  await during;
  await relay.idle();
  assert.deepEqual(errors, ['Kafka is down']);
  assert.equal(runs.runs, 1, 'no immediate second run after a failure');

  const retry = relay.request();
  assert.equal(runs.runs, 2, 'the next request (the timer) runs again');
  runs.next().resolve();
  await retry;
  assert.deepEqual(errors, ['Kafka is down']);
});
