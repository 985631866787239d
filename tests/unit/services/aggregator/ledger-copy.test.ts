/**
 * The ledger's binary COPY encoder (services/aggregator/src/ledger-copy.ts) against a reference
 * written the plain way (Buffer's own write*BE and concat, one row a run of shares of one wager
 * and rate): a table of share sequences, every chunk size down to rows that move between chunks,
 * then the values it refuses. What Postgres makes of the bytes is tests/integration/ledger-copy.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Wager } from '../../../../shared/src/domain/index.js';
import { createLedgerEncoder, timestampMicros } from '../../../../services/aggregator/src/ledger-copy.js';

interface Share {
  readonly wager: Wager;
  readonly fx: bigint | null;
  readonly poolId: string;
  readonly cycle: number;
  readonly c: bigint;
  readonly o: bigint;
  readonly r: bigint;
}

const int16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const int8Field = (v: bigint): Buffer => {
  const b = Buffer.alloc(12);
  b.writeInt32BE(8);
  b.writeBigInt64BE(v, 4);
  return b;
};
const textField = (t: string): Buffer => {
  const bytes = Buffer.from(t, 'utf8');
  return Buffer.concat([int32(bytes.length), bytes]);
};
const array = (oid: number, elems: Buffer[]): Buffer => {
  const body = Buffer.concat([int32(1), int32(0), int32(oid), int32(elems.length), int32(1), ...elems]);
  return Buffer.concat([int32(body.length), body]);
};

/** The COPY data the plain way. */
function reference(shares: readonly Share[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), int32(0), int32(0)];
  for (let i = 0; i < shares.length;) {
    const first = shares[i] as Share;
    let j = i;
    while (j < shares.length && shares[j]?.wager === first.wager && shares[j]?.fx === first.fx) j++;
    const run = shares.slice(i, j);
    const w = first.wager;
    parts.push(
      int16(12),
      int32(16),
      Buffer.from(w.eventId.replaceAll('-', ''), 'hex'),
      int8Field(timestampMicros(w.occurredAt)),
      textField(w.gameId),
      textField(w.playerId),
      textField(w.currency),
      int8Field(BigInt(w.amountMinor)),
      first.fx === null ? int32(-1) : int8Field(first.fx),
      array(
        25,
        run.map((s) => textField(s.poolId)),
      ),
      array(
        23,
        run.map((s) => Buffer.concat([int32(4), int32(s.cycle)])),
      ),
      array(
        20,
        run.map((s) => int8Field(s.c)),
      ),
      array(
        20,
        run.map((s) => int8Field(s.o)),
      ),
      array(
        20,
        run.map((s) => int8Field(s.r)),
      ),
    );
    i = j;
  }
  parts.push(int16(-1));
  return Buffer.concat(parts);
}

function encode(shares: readonly Share[], chunkBytes?: number): { bytes: Buffer; chunks: number } {
  const e = createLedgerEncoder(chunkBytes);
  for (const s of shares) e.row(s.wager, s.fx, s.poolId, s.cycle, s.c, s.o, s.r);
  const chunks = e.finish();
  for (const c of chunks) assert.ok(c.length > 0, 'no empty chunk');
  return { bytes: Buffer.concat(chunks), chunks: chunks.length };
}

const uuid = (n: number): string => `0b6f0c1e-4d4f-4f5e-9a43-${n.toString(16).padStart(12, '0')}`;
function wager(n: number, over: Partial<Wager> = {}): Wager {
  return {
    eventId: uuid(n),
    occurredAt: '2026-11-29T12:00:00.123Z',
    occurredAtMs: 0, // not encoded
    gameId: 'starburst-eu',
    playerId: `p-${n}`,
    currency: 'EUR',
    amountMinor: 250,
    ...over,
  };
}
const POOLS = ['demo-eu:grand', 'demo-eu:major', 'demo-eu:mini', 'demo-eu:minor'];
function shares(w: Wager, fx: bigint | null = null, pools = POOLS, cycle = 1): Share[] {
  const a = BigInt(w.amountMinor);
  return pools.map((poolId, k) => ({
    wager: w,
    fx,
    poolId,
    cycle,
    c: a * BigInt(1000 * (k + 1)),
    o: 0n,
    r: a * 7n,
  }));
}

const w1 = wager(1);
const w2 = wager(2, { occurredAt: '2026-11-29T12:00:00.123Z' });
const CASES: { name: string; shares: Share[] }[] = [
  { name: 'nothing: header and trailer only', shares: [] },
  { name: 'one wager, four pools', shares: shares(w1) },
  { name: 'one wager, one pool', shares: shares(w1, null, ['p:1']) },
  { name: 'two wagers of one moment', shares: [...shares(w1), ...shares(w2)] },
  { name: 'a converted wager (a rate)', shares: shares(wager(3, { currency: 'USD' }), 1_080_000n) },
  {
    name: 'same wager, the rate changes: two rows',
    shares: [...shares(w1, null, ['a:1']), ...shares(w1, 5n, ['a:2'])],
  },
  {
    name: "a wager's shares come apart: a row each run",
    shares: [...shares(w1, null, ['a:1']), ...shares(w2, null, ['a:1']), ...shares(w1, null, ['a:2'])],
  },
  {
    name: 'int8 extremes, negative and zero shares, overflow',
    shares: [
      { wager: w1, fx: null, poolId: 'x:1', cycle: 2 ** 31 - 1, c: 2n ** 63n - 1n, o: 0n, r: 0n },
      { wager: w1, fx: null, poolId: 'x:2', cycle: -(2 ** 31), c: -(2n ** 63n), o: 12_345n, r: -1n },
    ],
  },
  ...[
    0,
    1,
    -1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    -(2 ** 32),
    -(2 ** 32) - 1,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
  ].map((amountMinor) => ({
    name: `amountMinor ${amountMinor}`,
    shares: shares(wager(4, { amountMinor }), null, ['a:1']),
  })),
  {
    name: 'text that is not ASCII (UTF-8 of 2, 3 and 4 bytes)',
    shares: shares(wager(5, { gameId: 'jeu-é', playerId: 'プレイヤー😀', currency: 'EUR' }), null, [
      'pool-ü:1',
      'a:1',
    ]),
  },
  { name: 'empty texts', shares: shares(wager(6, { gameId: '', playerId: '' }), null, ['']) },
  {
    name: 'a wager of 150 pools',
    shares: shares(
      w1,
      null,
      Array.from({ length: 150 }, (_, i) => `big:${i}`),
    ),
  },
  {
    name: 'timestamps with offsets and seven to nine fraction digits',
    shares: [
      ...shares(wager(7, { occurredAt: '2026-11-29T01:00:00.123456789+05:30' })),
      ...shares(wager(8, { occurredAt: '1999-12-31T23:59:59.9999995Z' })),
      ...shares(wager(9, { occurredAt: '0001-01-01T00:00:00-08:00' })),
    ],
  },
  {
    name: '500 wagers (several chunks at small sizes)',
    shares: Array.from({ length: 500 }, (_, i) =>
      shares(wager(100 + i, { amountMinor: 1 + i * 997 }), null, POOLS, 1 + (i % 3)),
    ).flat(),
  },
];

for (const c of CASES) {
  void test(`ledger COPY bytes: ${c.name}`, () => {
    const expected = reference(c.shares);
    // The default chunk, then sizes that make rows start, and move, at every kind of boundary.
    for (const chunkBytes of [undefined, 19, 20, 64, 100, 333, 1024]) {
      const { bytes } = encode(c.shares, chunkBytes);
      assert.ok(bytes.equals(expected), `chunkBytes ${chunkBytes ?? 'default'}`);
    }
  });
}

void test('ledger COPY: count is shares, wagers is rows', () => {
  const e = createLedgerEncoder();
  const all = [
    ...shares(w1, null, ['a:1']),
    ...shares(w2, null, ['a:1', 'a:2']),
    ...shares(w1, null, ['a:3']),
  ];
  for (const s of all) e.row(s.wager, s.fx, s.poolId, s.cycle, s.c, s.o, s.r);
  assert.equal(e.count(), 4);
  assert.equal(e.wagers(), 3);
});

void test('property: random shares encode as the reference does, at any chunk size', () => {
  const wagerArb = fc.record({
    n: fc.integer({ min: 0, max: 2 ** 40 }),
    amountMinor: fc.maxSafeInteger(),
    gameId: fc.string({ maxLength: 8 }).filter((s) => !s.includes('\0')),
    playerId: fc.string({ unit: 'grapheme', maxLength: 6 }),
  });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          w: wagerArb,
          fx: fc.option(fc.bigInt({ min: 1n, max: 9_000_000_000n }), { nil: null }),
          pools: fc.array(
            fc.record({
              poolId: fc.constantFrom(...POOLS, 'ü:1'),
              cycle: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
              c: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
              o: fc.bigInt({ min: 0n, max: 2n ** 60n }),
              r: fc.bigInt({ min: 0n, max: 2n ** 53n }),
            }),
            { minLength: 1, maxLength: 6 },
          ),
        }),
        { maxLength: 30 },
      ),
      fc.integer({ min: 19, max: 600 }),
      (ws, chunkBytes) => {
        const all: Share[] = [];
        for (const x of ws) {
          const w = wager(x.w.n, {
            amountMinor: x.w.amountMinor,
            gameId: x.w.gameId,
            playerId: x.w.playerId,
          });
          for (const p of x.pools) all.push({ wager: w, fx: x.fx, ...p });
        }
        assert.ok(encode(all, chunkBytes).bytes.equals(reference(all)));
      },
    ),
    { numRuns: 300 },
  );
});

const REFUSED: { name: string; share: Share; error: RegExp; code?: string }[] = [
  {
    name: 'a contribution above int8',
    share: { ...shares(w1)[0]!, c: 2n ** 63n },
    error: /out of range for a Postgres bigint/,
    code: '22003',
  },
  {
    name: 'a reserve below int8',
    share: { ...shares(w1)[0]!, r: -(2n ** 63n) - 1n },
    error: /out of range/,
    code: '22003',
  },
  {
    name: 'an overflow above int8',
    share: { ...shares(w1)[0]!, o: 2n ** 64n },
    error: /out of range/,
    code: '22003',
  },
  {
    name: 'a rate above int8',
    share: { ...shares(w1)[0]!, fx: 2n ** 63n },
    error: /out of range/,
    code: '22003',
  },
  {
    name: 'a cycle above int4',
    share: { ...shares(w1)[0]!, cycle: 2 ** 31 },
    error: /cycle must be an int4/,
  },
  {
    name: 'a cycle that is not an integer',
    share: { ...shares(w1)[0]!, cycle: 1.5 },
    error: /cycle must be an int4/,
  },
  {
    name: 'an amount past 2^53',
    share: shares(wager(1, { amountMinor: 2 ** 53 }))[0]!,
    error: /safe integer/,
  },
  { name: 'NUL in a player id', share: shares(wager(1, { playerId: 'p\0' }))[0]!, error: /NUL/ },
  { name: 'NUL in a pool id', share: { ...shares(w1)[0]!, poolId: 'a\0b' }, error: /NUL/ },
  {
    name: 'a lone surrogate in a game id',
    share: shares(wager(1, { gameId: 'g\ud800' }))[0]!,
    error: /surrogate/,
  },
  {
    name: 'an event id that is not a UUID',
    share: shares(wager(1, { eventId: 'not-a-uuid' }))[0]!,
    error: /not a UUID/,
  },
  {
    name: 'an event id with a non-hex digit',
    share: shares(wager(1, { eventId: uuid(1).replace('b', 'x') }))[0]!,
    error: /not a UUID/,
  },
  {
    name: 'a timestamp without a zone',
    share: shares(wager(1, { occurredAt: '2026-11-29T12:00:00' }))[0]!,
    error: /not an RFC 3339 timestamp/,
  },
];
for (const c of REFUSED) {
  void test(`ledger COPY refuses ${c.name}`, () => {
    const e = createLedgerEncoder();
    const s = c.share;
    assert.throws(
      () => e.row(s.wager, s.fx, s.poolId, s.cycle, s.c, s.o, s.r),
      (err: unknown) =>
        err instanceof RangeError &&
        c.error.test(err.message) &&
        (c.code === undefined || (err as { code?: string }).code === c.code),
    );
  });
}
