/**
 * kafkajs 2.2.4 as patched by `patches/kafkajs+2.2.4.patch` (applied by `npm ci`'s postinstall;
 * why, in patches/README.md): the patch is in place, and the patched code paths give exactly what
 * the original arithmetic gives.
 *
 * - `Decoder.readVarLong`: every zigzag varlong, 1 to 10 bytes, decodes to the value the
 *   Encoder wrote (the fast path up to 7 bytes, the original BigInt loop beyond).
 * - A record's `offset` and `timestamp`: the batch's first offset and timestamp plus the record's
 *   deltas, as the BigInt sum's decimal text, also past 2^53 and for negative timestamps.
 * - `Encoder`: varints and varlongs byte for byte as the reference LEB128 of their zigzag gives,
 *   a varlong given as a Number (the patched road) exactly as the same value given as a Long, and
 *   `sizeOfVarLong` equal to what is written.
 * - `groupMessagesPerPartition`: each partition's messages in their original order.
 * - The produce request: a record's key, value and headers reach the wire.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { KAFKAJS_PATCHED_FILES, kafkajsUnpatchedFiles } from '../../shared/src/kafka.js';

const require = createRequire(import.meta.url);
const kafkajsDir = require.resolve('kafkajs').replace(/index\.js$/, '');

interface LongLike {
  readonly value: bigint;
  toString(): string;
}
interface EncoderLike {
  writeVarLong(v: LongLike | number): EncoderLike;
  writeVarInt(v: number): EncoderLike;
  readonly buffer: Buffer;
}
interface DecoderLike {
  readVarLong(): LongLike;
  readVarInt(): number;
  offset: number;
}
type LongStatic = { fromValue(v: bigint | number | string): LongLike };

const load = <T>(path: string): T => require(kafkajsDir + path) as T;
const Long = load<LongStatic>('src/utils/long.js');
const Encoder = load<
  (new (initialSize?: number) => EncoderLike) & { sizeOfVarLong(v: LongLike | number): number }
>('src/protocol/encoder.js');
const Decoder = load<new (b: Buffer) => DecoderLike>('src/protocol/decoder.js');
const Record = load<(r: object) => EncoderLike>('src/protocol/recordBatch/record/v0/index.js');
const decodeRecord = load<
  (
    d: DecoderLike,
    ctx: object,
  ) => { offset: string; timestamp: string; key: Buffer; value: Buffer; headers: object }
>('src/protocol/recordBatch/record/v0/decoder.js');
const groupMessagesPerPartition = load<
  (a: {
    topic: string;
    partitionMetadata: unknown[];
    messages: { p: number }[];
    partitioner: (a: { message: { p: number } }) => number;
  }) => Record<string, { p: number }[]>
>('src/producer/groupMessagesPerPartition.js');

void describe('the kafkajs patch', () => {
  void it('is applied (npm ci runs patch-package), and the services find it so', () => {
    for (const file of KAFKAJS_PATCHED_FILES) {
      assert.match(readFileSync(kafkajsDir + file, 'utf8'), /jackpot-pipeline/, file);
    }
    assert.deepEqual(kafkajsUnpatchedFiles(), [], 'no startup warning');
  });

  void it('readVarLong decodes every length of zigzag varlong exactly', () => {
    const values: bigint[] = [0n, 1n, -1n, 63n, -64n, 64n, -65n, 2n ** 48n - 1n, -(2n ** 48n), 2n ** 48n];
    values.push(-(2n ** 48n) - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n));
    // Every power of two and its neighbours: each varlong length, 1 to 10 bytes, and both signs.
    for (let bit = 0n; bit < 63n; bit++) {
      for (const v of [2n ** bit - 1n, 2n ** bit, 2n ** bit + 1n]) values.push(v, -v);
    }
    for (const v of values) {
      const bytes = new Encoder().writeVarLong(Long.fromValue(v)).writeVarInt(7).buffer;
      const d = new Decoder(bytes);
      assert.equal(d.readVarLong().value, v, `value ${v}`);
      assert.equal(d.readVarInt(), 7, `the next field after ${v}`);
    }
  });

  void it("a record's offset and timestamp are the batch's first ones plus its deltas, exactly", () => {
    const bases = ['0', '5', '1764576000000', '-1', '9007199254740990', '9223372036854775000'];
    const deltas = [0, 1, 77, 2 ** 30, -5, 2 ** 40];
    for (const first of bases) {
      for (const delta of deltas) {
        const offsetDelta = Math.abs(delta) % 2 ** 31;
        const bytes = Record({
          offsetDelta,
          timestampDelta: Long.fromValue(delta),
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          headers: { h: 'x' },
        }).buffer;
        const d = new Decoder(bytes);
        d.readVarInt(); // the record's length, read by the batch decoder
        const r = decodeRecord(d, {
          firstOffset: first,
          firstTimestamp: first,
          magicByte: 2,
          timestampType: 0,
        });
        assert.equal(
          r.offset,
          String(BigInt(first) + BigInt(offsetDelta)),
          `offset ${first} + ${offsetDelta}`,
        );
        assert.equal(r.timestamp, String(BigInt(first) + BigInt(delta)), `timestamp ${first} + ${delta}`);
        assert.equal(r.key.toString(), 'k');
        assert.equal(r.value.toString(), 'v');
        assert.deepEqual({ ...r.headers }, { h: Buffer.from('x') });
      }
    }
  });

  void it('writes varints and varlongs exactly as the reference encoding, Numbers and Longs alike', () => {
    /** Zigzag, then LEB128: 7 bits a byte, least significant first, the high bit on all but the last. */
    const reference = (v: bigint, bits: bigint): number[] => {
      let z = BigInt.asUintN(Number(bits), (v << 1n) ^ (v >> (bits - 1n)));
      const out: number[] = [];
      while (z >= 0x80n) {
        out.push(Number(z & 0x7fn) | 0x80);
        z >>= 7n;
      }
      out.push(Number(z));
      return out;
    };
    const longs: bigint[] = [
      0n,
      1n,
      -1n,
      2n ** 52n,
      -(2n ** 52n),
      2n ** 52n + 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    for (let bit = 0n; bit < 63n; bit++) {
      for (const v of [2n ** bit - 1n, 2n ** bit, 2n ** bit + 1n]) longs.push(v, -v);
    }
    for (const v of longs) {
      const expected = reference(v, 64n);
      // A tiny initial buffer, so that growing it is exercised too.
      const asLong = new Encoder(1).writeVarLong(Long.fromValue(v)).buffer;
      assert.deepEqual([...asLong], expected, `Long ${v}`);
      assert.equal(Encoder.sizeOfVarLong(Long.fromValue(v)), expected.length, `size of Long ${v}`);
      if (v >= -(2n ** 53n) && v <= 2n ** 53n) {
        const asNumber = new Encoder(1).writeVarLong(Number(v)).buffer;
        assert.deepEqual([...asNumber], expected, `Number ${v}`);
        assert.equal(Encoder.sizeOfVarLong(Number(v)), expected.length, `size of Number ${v}`);
      }
    }
    const ints: number[] = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)];
    for (let bit = 0; bit < 31; bit++)
      for (const v of [2 ** bit - 1, 2 ** bit, 2 ** bit + 1]) ints.push(v, -v);
    const encoder = new Encoder(1);
    const expected: number[] = [];
    for (const v of ints.filter((x) => x >= -(2 ** 31) && x < 2 ** 31)) {
      encoder.writeVarInt(v);
      expected.push(...reference(BigInt(v), 32n));
    }
    assert.deepEqual([...encoder.buffer], expected, 'varints, one after another');
  });

  void it('a record encodes to the same bytes with its timestamp delta as a Number or a Long', () => {
    for (const delta of [0, 1, -1, 77, 2 ** 31, -(2 ** 40), 2 ** 52]) {
      const record = (timestampDelta: LongLike | number): Buffer =>
        Record({
          offsetDelta: 3,
          timestampDelta,
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          headers: {},
        }).buffer;
      assert.deepEqual(record(delta), record(Long.fromValue(delta)), `delta ${delta}`);
    }
  });

  void it('groups messages by partition, each partition in the order given', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ p: (i * 7919) % 12 }));
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{}],
      messages,
      partitioner: ({ message }) => message.p,
    });
    assert.deepEqual(
      Object.keys(grouped)
        .map(Number)
        .sort((a, b) => a - b),
      [...Array(12).keys()],
    );
    for (const [p, list] of Object.entries(grouped)) {
      assert.deepEqual(
        list,
        messages.filter((m) => m.p === Number(p)),
      );
    }
    assert.deepEqual(
      groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }),
      {},
    );
  });
});
