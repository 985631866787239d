import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  contributionMicro,
  displayMinor,
  fractionMicro,
  microToString,
  reserveMicro,
} from '../../../shared/src/domain/index.js';

void test('contributionMicro and reserveMicro: amountMinor × ppm, exact', () => {
  const table: [number, number, bigint][] = [
    [250, 10_000, 2_500_000n], // 1 % of 2.50 EUR = 2.5 cents
    [1, 1, 1n], // the smallest possible contribution: one micro-unit
    [333, 7, 2_331n],
    [1, 0, 0n],
    [1_000_000_000, 1_000_000, 1_000_000_000_000_000n],
    [999_999_999, 999_999, 999_998_999_000_001n],
    [0, 500_000, 0n],
  ];
  for (const [amount, ppm, expected] of table) {
    assert.equal(contributionMicro(amount, ppm), expected, `${amount} × ${ppm}`);
    assert.equal(reserveMicro(amount, ppm), expected, `${amount} × ${ppm}`);
  }
});

void test('contributionMicro refuses inputs no wager or pool can have', () => {
  for (const [amount, ppm] of [
    [-1, 10],
    [2.5, 10],
    [Number.NaN, 10],
    [2 ** 53, 10],
    [10, -1],
    [10, 1_000_001],
    [10, 0.5],
  ] as const) {
    assert.throws(() => contributionMicro(amount, ppm), RangeError, `${amount} × ${ppm}`);
    assert.throws(() => reserveMicro(amount, ppm), RangeError, `${amount} × ${ppm}`);
  }
});

void test('displayMinor is floor(micro / 1e6) and fractionMicro the carry, also below zero', () => {
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
    assert.equal(fractionMicro(micro), fraction, `fraction ${micro}`);
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
      const fraction = fractionMicro(a);
      assert.equal(display * 1_000_000n + fraction, a);
      assert.ok(fraction >= 0n && fraction < 1_000_000n);
      // microToString carries the same digits, so nothing is lost in reports either.
      assert.equal(BigInt(microToString(a).replace('.', '')), a);
    }),
  );
});

void test('property: the carried fraction loses nothing across many contributions', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 1_000_000_000 }), { maxLength: 50 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (amounts, ppm) => {
        let total = 0n;
        let shownMinor = 0n;
        for (const amount of amounts) {
          total += contributionMicro(amount, ppm);
          shownMinor = displayMinor(total);
        }
        const sumAmounts = amounts.reduce((s, a) => s + BigInt(a), 0n);
        assert.equal(total, sumAmounts * BigInt(ppm));
        assert.equal(shownMinor, (sumAmounts * BigInt(ppm)) / 1_000_000n);
      },
    ),
  );
});
