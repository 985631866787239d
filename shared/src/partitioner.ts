/**
 * The wager producer's partitioner: the Java client's default for keyed messages (murmur2 of the
 * key's UTF-8 bytes, sign bit cleared, modulo the partition count), as kafkajs' `DefaultPartitioner`
 * computes it, so every key lands on the same partition as before and as a Java or librdkafka
 * (`murmur2_random`) producer would put it.
 *
 * Why not kafkajs' own: it computes murmur2 with 64-bit `Long` objects (about twenty allocated per
 * 12-byte key), turns a string key into a Buffer first, and filters the partition list into a new
 * array for every message. At tens of thousands of wagers a second that was about 6 % of a
 * producer's CPU and much of its garbage (measured with `node --cpu-prof` on the load generator).
 * Here the hash is 32-bit integer arithmetic (`Math.imul`, which is what the Long code computes in
 * its low 32 bits) over the key's characters when they are ASCII (a playerId is), with no
 * allocation. Messages with an explicit partition or without a key go to kafkajs' partitioner
 * unchanged (round robin over the available partitions for keyless ones).
 */
import { Partitioners, type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';

const SEED = 0x9747b28c | 0;
const M = 0x5bd1e995;

/** Java's `Utils.murmur2` of `data` (bytes), as a signed 32-bit integer. */
function murmur2Bytes(length: number, byteAt: (i: number) => number): number {
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = byteAt(i4) | (byteAt(i4 + 1) << 8) | (byteAt(i4 + 2) << 16) | (byteAt(i4 + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= byteAt(tail + 2) << 16;
  if (rest >= 2) h ^= byteAt(tail + 1) << 8;
  if (rest >= 1) {
    h ^= byteAt(tail);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** murmur2 of a key as kafkajs hashes it: a Buffer's bytes, anything else as the UTF-8 of `String(key)`. */
export function murmur2(key: string | Buffer): number {
  if (typeof key === 'string' && isAscii(key)) return murmur2Bytes(key.length, (i) => key.charCodeAt(i));
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  return murmur2Bytes(data.length, (i) => data[i] as number);
}

/** For `kafka.producer({ createPartitioner })`: the same partitions as `Partitioners.DefaultPartitioner`. */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args: PartitionerArgs): number => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (message.partition !== undefined || key === null || key === undefined) return fallback(args);
    return (murmur2(key) & 0x7fffffff) % partitionMetadata.length;
  };
};
