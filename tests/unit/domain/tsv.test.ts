import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeBytea, escapeText, tsvRow, type TsvField } from '../../../shared/src/domain/index.js';

void test('tsvRow: one field per value, tab-separated, newline-terminated', () => {
  const table: [TsvField[], string][] = [
    [['plain'], 'plain\n'],
    [[''], '\n'],
    [[], '\n'],
    [['a', 'b', 'c'], 'a\tb\tc\n'],
    [['a\tb'], 'a\\tb\n'],
    [['a\nb'], 'a\\nb\n'],
    [['a\rb'], 'a\\rb\n'],
    [['a\r\nb'], 'a\\r\\nb\n'],
    [['a\\b'], 'a\\\\b\n'],
    [['\\N'], '\\\\N\n'], // the text "\N" is not NULL
    [['\\.'], '\\\\.\n'], // nor the end-of-data marker
    [['C:\\new\tdir'], 'C:\\\\new\\tdir\n'],
    [[null], '\\N\n'],
    [[null, '', null], '\\N\t\t\\N\n'],
    [['é€😀 日本'], 'é€😀 日本\n'],
    [['\u2028\u00a0\u000b\u001b'], '\u2028\u00a0\u000b\u001b\n'], // only \ \t \n \r need escaping
    [[0, -5, 250], '0\t-5\t250\n'],
    [[Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER], '9007199254740991\t-9007199254740991\n'],
    [[-0], '0\n'],
    [[0n, -1n, 2n ** 70n], '0\t-1\t1180591620717411303424\n'],
    [[{ bytea: new Uint8Array(0) }], '\\\\x\n'],
    [[{ bytea: Uint8Array.of(0, 1, 0x0a, 0x5c, 0xff) }], '\\\\x00010a5cff\n'],
    [
      ['e1', 'j1:grand', 3, 250, 1_250_000n, null, { bytea: Uint8Array.of(0xde, 0xad) }],
      'e1\tj1:grand\t3\t250\t1250000\t\\N\t\\\\xdead\n',
    ],
  ];
  for (const [fields, expected] of table) assert.equal(tsvRow(fields), expected, JSON.stringify(expected));
});

void test('bytea: all 256 byte values in order', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const row = tsvRow([{ bytea: all }]);
  assert.equal(row.length, 3 + 512 + 1);
  assert.equal(row, `\\\\x${Buffer.from(all).toString('hex')}\n`);
  assert.equal(row.slice(0, 9), '\\\\x000102');
  assert.equal(row.slice(-7), 'fdfeff\n');
  assert.equal(encodeBytea(all), row.slice(0, -1));
});

void test('values Postgres cannot store as given are refused, not mangled', () => {
  assert.throws(() => tsvRow(['a\u0000b']), RangeError);
  assert.throws(() => tsvRow(['\u0000']), RangeError);
  assert.throws(() => escapeText('x\ud800'), RangeError);
  assert.throws(() => escapeText('\udc00x'), RangeError);
  assert.throws(() => escapeText('\ude00\ud83d'), RangeError); // swapped pair
  assert.doesNotThrow(() => escapeText('\ud83d\ude00'));
  for (const n of [1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 53), 1e21]) {
    assert.throws(() => tsvRow([n]), RangeError, String(n));
  }
  assert.throws(() => tsvRow([undefined as unknown as TsvField]), TypeError);
  assert.throws(() => tsvRow([{} as unknown as TsvField]), TypeError);
});

/** A reader for COPY text format, written from the Postgres documentation, to check round trips. */
function readRow(line: string): (string | null)[] {
  assert.ok(line.endsWith('\n'));
  const body = line.slice(0, -1);
  assert.ok(!body.includes('\n') && !body.includes('\r'));
  return body.split('\t').map((raw) => {
    if (raw === '\\N') return null;
    return raw.replace(
      /\\(.)/g,
      (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? assert.fail(`\\${c}`),
    );
  });
}

void test('property: any text without NUL survives a round trip through COPY text format', () => {
  const text = fc.string({ unit: 'grapheme' }).map((s) => s.replaceAll('\u0000', ''));
  const tricky = fc.string({ unit: fc.constantFrom('\\', '\t', '\n', '\r', 'N', '.', 'x', 'é') });
  fc.assert(
    fc.property(fc.array(fc.option(fc.oneof(text, tricky)), { minLength: 1, maxLength: 8 }), (fields) => {
      assert.deepEqual(readRow(tsvRow(fields)), fields);
    }),
  );
});

void test('property: bytea round trip', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const [field] = readRow(tsvRow([{ bytea: bytes }]));
      assert.ok(typeof field === 'string' && field.startsWith('\\x'));
      assert.deepEqual(new Uint8Array(Buffer.from(field.slice(2), 'hex')), bytes);
    }),
  );
});
