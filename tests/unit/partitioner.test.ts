/**
 * The producer's partitioner puts every key on the partition kafkajs' DefaultPartitioner (the Java
 * client's murmur2) gives it: playerIds, other text, non-ASCII text and Buffers, every length
 * around the hash's 4-byte blocks, several partition counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { KeyHashPartitioner, murmur2 } from '../../shared/src/partitioner.js';

function metadata(n: number): PartitionerArgs['partitionMetadata'] {
  return Array.from({ length: n }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
}

/** A deterministic pseudo-random stream (xorshift32). */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function keys(): (string | Buffer)[] {
  const r = rng(42);
  const out: (string | Buffer)[] = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    'abcde',
    'p-1',
    'p-100000',
    'loadgen-probe',
  ];
  for (let i = 1; i <= 5000; i++) out.push(`p-${i}`);
  const alphabet = ['a', 'Z', '0', '-', 'é', 'ß', '€', '中', '😀', '\u007f', '\u0080'];
  for (let i = 0; i < 3000; i++) {
    const length = Math.floor(r() * 40);
    let s = '';
    for (let j = 0; j < length; j++) s += alphabet[Math.floor(r() * alphabet.length)] as string;
    out.push(s);
    out.push(Buffer.from(Array.from({ length }, () => Math.floor(r() * 256))));
  }
  return out;
}

void describe('KeyHashPartitioner', () => {
  void it('gives every key the partition of kafkajs DefaultPartitioner', () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const all = keys();
    for (const n of [1, 3, 12, 50]) {
      const partitionMetadata = metadata(n);
      for (const key of all) {
        const args = { topic: 't', partitionMetadata, message: { key, value: null } };
        assert.equal(ours(args), theirs(args), `key ${JSON.stringify(String(key))}, ${n} partitions`);
      }
    }
  });

  void it('hashes a string key as its UTF-8 bytes', () => {
    for (const key of ['p-1', 'déjà vu', '😀x'])
      assert.equal(murmur2(key), murmur2(Buffer.from(key, 'utf8')));
  });

  void it('keeps an explicit partition, and spreads keyless messages over the partitions', () => {
    const ours = KeyHashPartitioner();
    const partitionMetadata = metadata(12);
    assert.equal(
      ours({ topic: 't', partitionMetadata, message: { key: 'p-1', value: null, partition: 7 } }),
      7,
    );
    const seen = new Set<number>();
    for (let i = 0; i < 24; i++)
      seen.add(ours({ topic: 't', partitionMetadata, message: { key: null, value: null } }));
    assert.equal(seen.size, 12);
  });
});
