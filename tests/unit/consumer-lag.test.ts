/**
 * The consumer-lag arithmetic and bookkeeping: lag from a high watermark and the next offset,
 * and what each partition's series reads as partitions come and go with rebalances.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LagBook, lagOf } from '../../shared/src/consumer-lag.js';

void describe('lagOf', () => {
  const cases: [highWatermark: string, next: bigint, lag: number][] = [
    ['0', 0n, 0], // empty partition
    ['10', 0n, 10], // nothing applied
    ['10', 10n, 0], // caught up
    ['10', 7n, 3],
    ['10', 12n, 0], // a watermark read before a later fetch: never negative
    ['9007199254740993', 9007199254740990n, 3], // past 2^53: exact in BigInt
  ];
  for (const [hw, next, lag] of cases) {
    void it(`high watermark ${hw}, next offset ${next} → ${lag}`, () => assert.equal(lagOf(hw, next), lag));
  }
});

void describe('LagBook', () => {
  const read = (book: LagBook) =>
    [...book.entries()].map(({ topic, partition, lag }) => `${topic}/${partition}=${lag}`).sort();

  void it('reports owned partitions, and 0 for partitions no longer owned', () => {
    const book = new LagBook();
    book.assign({ w: [0, 1] });
    book.set('w', 0, 5);
    book.set('w', 1, 7);
    assert.deepEqual(read(book), ['w/0=5', 'w/1=7']);
    book.assign({ w: [1, 2] }); // partition 0 moved to another replica
    assert.deepEqual(read(book), ['w/0=0', 'w/1=7']);
    book.set('w', 2, 4);
    assert.deepEqual(read(book), ['w/0=0', 'w/1=7', 'w/2=4']);
  });

  void it('reads 0 everywhere while rebalancing, and ignores a late batch of a partition it lost', () => {
    const book = new LagBook();
    book.assign({ w: [0] });
    book.set('w', 0, 3);
    book.release();
    assert.deepEqual(read(book), ['w/0=0']);
    book.set('w', 0, 9); // a batch that finished after the revocation
    assert.deepEqual(read(book), ['w/0=0']);
    book.assign({ w: [0] });
    book.set('w', 0, 2);
    assert.deepEqual(read(book), ['w/0=2']);
  });

  void it('keeps topics apart', () => {
    const book = new LagBook();
    book.assign({ a: [0], b: [0] });
    book.set('a', 0, 1);
    book.set('b', 0, 2);
    assert.deepEqual(read(book), ['a/0=1', 'b/0=2']);
  });
});
