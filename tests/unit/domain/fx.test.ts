import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  canValueIn,
  convertMinorToMicro,
  fxRateKey,
  shareMicro,
  valueInJackpotCurrency,
} from '../../../shared/src/domain/index.js';

const rates = new Map<string, bigint>([
  [fxRateKey('USD', 'EUR'), 923_457n], // 1 US cent = 0.923457 euro cents
  [fxRateKey('JPY', 'EUR'), 6_100n], // 1 yen (JPY's minor unit) = 0.0061 euro cents
]);

void test('fxRateKey is FROM>TO', () => {
  assert.equal(fxRateKey('USD', 'EUR'), 'USD>EUR');
  assert.notEqual(fxRateKey('USD', 'EUR'), fxRateKey('EUR', 'USD'));
});

void test('valueInJackpotCurrency: same currency, converted, or no rate', () => {
  const table: [number, string, string, { wagerMicro: bigint; fxRateMicro: bigint | null } | null][] = [
    [250, 'EUR', 'EUR', { wagerMicro: 250_000_000n, fxRateMicro: null }],
    [333, 'USD', 'EUR', { wagerMicro: 307_511_181n, fxRateMicro: 923_457n }], // 333 × 923,457
    [1_000_000_000, 'USD', 'EUR', { wagerMicro: 923_457_000_000_000n, fxRateMicro: 923_457n }],
    [7, 'JPY', 'EUR', { wagerMicro: 42_700n, fxRateMicro: 6_100n }],
    [100, 'EUR', 'USD', null], // rates are directed: USD>EUR says nothing about EUR>USD
    [100, 'GBP', 'EUR', null],
  ];
  for (const [amount, from, to, expected] of table) {
    assert.deepEqual(valueInJackpotCurrency(amount, from, to, rates), expected, `${amount} ${from}>${to}`);
  }
});

void test('canValueIn is true exactly when valueInJackpotCurrency values the wager', () => {
  const cases: [string, string, boolean][] = [
    ['EUR', 'EUR', true],
    ['USD', 'EUR', true],
    ['EUR', 'USD', false],
    ['GBP', 'EUR', false],
  ];
  for (const [from, to, expected] of cases) {
    assert.equal(canValueIn(from, to, rates), expected, `${from}>${to}`);
    assert.equal(valueInJackpotCurrency(250, from, to, rates) !== null, expected, `${from}>${to} valued`);
  }
});

void test('shareMicro: floor(wagerMicro × ppm / 1e6); the sub-micro remainder is dropped', () => {
  const table: [bigint, number, bigint][] = [
    [307_511_181n, 5_000, 1_537_555n], // 1,537,555.905 → the .905 micro is not pool money
    [307_511_181n, 1_000, 307_511n], // 307,511.181
    [307_511_181n, 0, 0n],
    [307_511_181n, 1_000_000, 307_511_181n],
    [42_700n, 10_000, 427n],
    [999_999n, 1, 0n], // less than one micro-unit: nothing
    [1_000_000n, 1, 1n],
    [250_000_000n, 10_000, 2_500_000n], // whole minor units: exactly amountMinor × ppm
  ];
  for (const [micro, ppm, share] of table) assert.equal(shareMicro(micro, ppm), share, `${micro} × ${ppm}`);
});

void test('bad inputs are loading bugs and throw RangeError', () => {
  assert.throws(() => convertMinorToMicro(1, 0n), RangeError);
  assert.throws(() => convertMinorToMicro(1, -5n), RangeError);
  assert.throws(() => convertMinorToMicro(-1, 5n), RangeError);
  assert.throws(() => convertMinorToMicro(1.5, 5n), RangeError);
  assert.throws(() => valueInJackpotCurrency(1, 'CHF', 'EUR', new Map([['CHF>EUR', 0n]])), RangeError);
  assert.throws(() => shareMicro(-1n, 5), RangeError);
  assert.throws(() => shareMicro(1n, 1_000_001), RangeError);
  assert.throws(() => shareMicro(1n, 0.5), RangeError);
});

void test('property: without conversion the share is exactly amountMinor × ppm', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1_000_000_000 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (a, ppm) => {
        const v = valueInJackpotCurrency(a, 'EUR', 'EUR', rates);
        assert.ok(v);
        assert.equal(shareMicro(v.wagerMicro, ppm), BigInt(a) * BigInt(ppm));
      },
    ),
  );
});

void test('property: a converted share loses less than one micro-unit, never gains', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1_000_000_000 }),
      fc.bigInt({ min: 1n, max: 10n ** 12n }),
      fc.integer({ min: 0, max: 1_000_000 }),
      (a, rate, ppm) => {
        const micro = convertMinorToMicro(a, rate);
        assert.equal(micro, BigInt(a) * rate);
        const share = shareMicro(micro, ppm);
        // share × 1e6 ≤ micro × ppm < (share + 1) × 1e6
        assert.ok(share * 1_000_000n <= micro * BigInt(ppm));
        assert.ok(micro * BigInt(ppm) < (share + 1n) * 1_000_000n);
      },
    ),
  );
});
