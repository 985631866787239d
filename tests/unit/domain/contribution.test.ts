import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { displayMinor, microToString } from '../../../shared/src/domain/index.js';

void test('displayMinor is floor(micro / 1e6), so the carried fraction is never negative', () => {
  const table: [bigint, bigint, bigint][] = [
    [0n, 0n, 0n],
    [1n, 0n, 1n],
    [999_999n, 0n, 999_999n],
    [1_000_000n, 1n, 0n],
    [1_999_999n, 1n, 999_999n],
    [2_500_000n, 2n, 500_000n],
    [123_456_789_012_345_678n, 123_456_789_012n, 345_678n],
    [-1n, -1n, 999_999n],
    [-1_000_000n, -1n, 0n],
    [-1_000_001n, -2n, 999_999n],
  ];
  for (const [micro, display, fraction] of table) {
    assert.equal(displayMinor(micro), display, `display ${micro}`);
    assert.equal(micro - displayMinor(micro) * 1_000_000n, fraction, `fraction ${micro}`);
  }
});

void test('microToString: six decimals in minor units', () => {
  const table: [bigint, string][] = [
    [0n, '0.000000'],
    [1n, '0.000001'],
    [1_234_567n, '1.234567'],
    [2_500_000n, '2.500000'],
    [-1n, '-0.000001'],
    [-2_500_001n, '-2.500001'],
    [1_000_000_000_000_005n, '1000000000.000005'],
  ];
  for (const [micro, text] of table) assert.equal(microToString(micro), text);
});

void test('property: display and carry recompose the amount exactly', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (a) => {
      const display = displayMinor(a);
      const fraction = a - display * 1_000_000n;
      assert.ok(fraction >= 0n && fraction < 1_000_000n);
      // microToString carries the same digits, so nothing is lost in reports either.
      assert.equal(BigInt(microToString(a).replace('.', '')), a);
    }),
  );
});
