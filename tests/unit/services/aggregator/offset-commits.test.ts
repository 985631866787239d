/**
 * Kafka's committed offsets of the aggregator group (a hint for lag monitors): at most one commit
 * per interval with each partition's newest position, only partitions the replica owns, and what
 * is pending committed when the replica stops.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOffsetCommits } from '../../../../services/aggregator/src/offset-commits.js';

type Commit = { topic: string; partition: number; offset: string }[];

function committer(intervalMs = 20, fail = false) {
  const commits: Commit[] = [];
  const errors: unknown[] = [];
  const offsets = createOffsetCommits({
    topic: 't',
    intervalMs,
    commit: (o) => {
      commits.push(o);
      return fail ? Promise.reject(new Error('REBALANCE_IN_PROGRESS')) : Promise.resolve();
    },
    onError: (e) => errors.push(e),
  });
  const at = (partition: number, nextOffset: number) => ({ partition, nextOffset: String(nextOffset) });
  const committed = () =>
    commits.map((c) =>
      c
        .map((o) => `${o.partition}@${o.offset}`)
        .sort()
        .join(' '),
    );
  return { offsets, commits, errors, at, committed };
}

void test('positions within one interval go in one commit, each partition at its newest', async () => {
  const c = committer();
  c.offsets.assign([0, 1]);
  c.offsets.add([c.at(0, 10)]);
  c.offsets.add([c.at(1, 5), c.at(0, 12)]);
  assert.equal(c.commits.length, 0, 'nothing before the interval');
  await sleep(60);
  assert.deepEqual(c.committed(), ['0@12 1@5']);
  c.offsets.add([c.at(1, 9)]);
  await sleep(60);
  assert.deepEqual(c.committed(), ['0@12 1@5', '1@9']);
});

void test('a partition given away in a rebalance is not committed, pending or later', async () => {
  const c = committer();
  c.offsets.assign([0, 1, 2]);
  c.offsets.add([c.at(0, 10), c.at(1, 20)]);
  c.offsets.assign([0, 2]); // partition 1 now belongs to another replica
  c.offsets.add([c.at(1, 25), c.at(2, 7)]); // a window of partition 1 that committed after the join
  await sleep(60);
  assert.deepEqual(c.committed(), ['0@10 2@7']);
});

void test('nothing is committed before the first assignment, or when no owned position came', async () => {
  const c = committer();
  c.offsets.add([c.at(3, 1)]);
  c.offsets.assign([0]);
  c.offsets.add([c.at(3, 2)]);
  await sleep(60);
  assert.equal(c.commits.length, 0);
});

void test('stop commits what is pending at once and ignores what comes after', async () => {
  const c = committer(60_000);
  c.offsets.assign([4]);
  c.offsets.add([c.at(4, 100)]);
  await c.offsets.stop();
  assert.deepEqual(c.committed(), ['4@100']);
  c.offsets.add([c.at(4, 101)]);
  await c.offsets.stop();
  assert.deepEqual(c.committed(), ['4@100'], 'no second commit');
});

void test('a failed commit is reported, not thrown, and the next interval commits again', async () => {
  const c = committer(20, true);
  c.offsets.assign([0]);
  c.offsets.add([c.at(0, 1)]);
  await sleep(60);
  c.offsets.add([c.at(0, 2)]);
  await sleep(60);
  assert.deepEqual(c.committed(), ['0@1', '0@2']);
  assert.equal(c.errors.length, 2);
});
