/**
 * Micro-unit arithmetic. 1 micro-unit = 1/1,000,000 of a minor unit, and shares are in parts per
 * million, so `amountMinor * ppm` is already an exact count of micro-units: no division and no
 * rounding anywhere on the way in. BigInt because micro-unit totals pass 2^53 (about 9e15, i.e.
 * 9e9 minor units, 90 million EUR in cents) in lifetime sums and large pools, where a float would
 * silently lose micro-units.
 */

export const MICRO_PER_MINOR = 1_000_000n;
/** 100 % in parts per million. */
export const PPM_MAX = 1_000_000;

/**
 * Whole minor units to display: floor(micro / 1e6). Pool amounts are never negative, but this is a
 * true floor for negative values too (BigInt `/` truncates toward zero, so -1 micro would otherwise
 * display as 0 instead of -1), so the fraction that carries, `a - displayMinor(a) * 1e6`, is
 * always in 0..999,999.
 */
export function displayMinor(micro: bigint): bigint {
  const q = micro / MICRO_PER_MINOR;
  return micro % MICRO_PER_MINOR < 0n ? q - 1n : q;
}

/** Exact decimal in minor units with six fraction digits, for logs and reports: 1234567n → "1.234567". */
export function microToString(micro: bigint): string {
  const sign = micro < 0n ? '-' : '';
  const abs = micro < 0n ? -micro : micro;
  return `${sign}${abs / MICRO_PER_MINOR}.${(abs % MICRO_PER_MINOR).toString().padStart(6, '0')}`;
}
