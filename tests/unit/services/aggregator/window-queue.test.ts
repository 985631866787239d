/**
 * The window queue on its own, with a scripted writer: windows close at their size or when a
 * writer is free for them, a partition's windows are written one after the other, and stopping
 * drops what no writer started.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Slice, WindowOutcome } from '../../../../services/aggregator/src/apply-window.js';
import { createWindowQueue, type Pending } from '../../../../services/aggregator/src/window-queue.js';

const outcome = { applied: 0 } as unknown as WindowOutcome;

function slice(partition: number, events: number): Slice {
  return {
    partition,
    messages: Array.from({ length: events }, (_, i) => ({
      offset: String(i),
      key: null,
      value: null,
    })),
  };
}

/** A queue whose writes finish only when the test says so. */
function scripted(maxEvents: number) {
  const writes: { window: readonly Pending[]; finish: () => void }[] = [];
  const queue = createWindowQueue({
    maxEvents: () => maxEvents,
    stopping: () => false,
    write: (window) =>
      new Promise<void>((resolve) => {
        writes.push({
          window,
          finish: () => {
            for (const p of window) p.resolve(outcome);
            resolve();
          },
        });
      }),
    onQueueChange: () => undefined,
  });
  return { queue, writes };
}

const settled = async (p: Promise<unknown>): Promise<string> =>
  Promise.race([
    p.then(
      () => 'resolved',
      (e: Error) => `rejected: ${e.message}`,
    ),
    new Promise<string>((r) => setTimeout(() => r('pending'), 20)),
  ]);

void test('cases: which slices share a window, and how many windows are written at once', () => {
  const cases: { name: string; slices: [number, number][]; windows: number[][] }[] = [
    { name: 'under the size: one open window, not written', slices: [[1, 3]], windows: [] },
    { name: 'at the size: written', slices: [[1, 5]], windows: [[1]] },
    {
      name: 'two partitions fill one window',
      slices: [
        [1, 3],
        [2, 2],
      ],
      windows: [[1, 2]],
    },
    {
      name: "a partition's second window waits for its first (one writer busy with it)",
      slices: [
        [1, 5],
        [1, 5],
        [2, 5],
      ],
      windows: [[1]],
    },
    {
      name: 'windows of different partitions are written two at a time',
      slices: [
        [1, 5],
        [2, 5],
        [3, 5],
      ],
      windows: [[1], [2]],
    },
  ];
  for (const c of cases) {
    const { queue, writes } = scripted(5);
    for (const [partition, events] of c.slices)
      void queue.add(slice(partition, events)).catch(() => undefined);
    assert.deepEqual(
      writes.map((w) => w.window.map((p) => p.slice.partition)),
      c.windows,
      c.name,
    );
    queue.abandon(new Error('end of case'));
    for (const w of writes) w.finish();
  }
});

void test('a window under the size is written once its fetch is handed over, if a writer is free', async () => {
  const { queue, writes } = scripted(5);
  void queue.add(slice(1, 2));
  void queue.add(slice(2, 1)); // the same fetch: same turn of the event loop
  assert.equal(writes.length, 0, 'not while the fetch is being handed over');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    writes.map((w) => w.window.map((p) => p.slice.partition)),
    [[1, 2]],
  );
  writes[0]?.finish();
});

void test('while its partitions are being written, the open window grows, and is written when the writer is done', async () => {
  const { queue, writes } = scripted(100);
  void queue.add(slice(1, 2));
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  // Three more fetches while the first window is in its transaction.
  for (const n of [3, 4, 5]) {
    void queue.add(slice(1, n));
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(writes.length, 1, 'kept open: it could not start');
  assert.equal(queue.queued(), 0);
  writes[0]?.finish();
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 2);
  assert.deepEqual(
    writes[1]?.window.map((p) => p.slice.messages.length),
    [3, 4, 5],
    'one window of the three',
  );
  writes[1]?.finish();
});

void test('abandon: the open and the queued windows are rejected, the one being written commits, then drained resolves', async () => {
  const { queue, writes } = scripted(5);
  const written = queue.add(slice(1, 5));
  const queuedBehind = queue.add(slice(1, 5)); // same partition: waits for the first
  const open = queue.add(slice(2, 1));
  assert.equal(writes.length, 1);
  assert.equal(queue.queued(), 1);

  queue.abandon(new Error('stopping'));
  assert.equal(await settled(queuedBehind), 'rejected: stopping');
  assert.equal(await settled(open), 'rejected: stopping');
  assert.equal(await settled(written), 'pending', 'the window being written is not touched');
  assert.equal(queue.queued(), 0);

  const drained = queue.drained();
  assert.equal(await settled(drained), 'pending', 'drained waits for the write in flight');
  writes[0]?.finish();
  assert.equal(await settled(written), 'resolved');
  assert.equal(await settled(drained), 'resolved');
  assert.equal(writes.length, 1, 'nothing else was written');
});
