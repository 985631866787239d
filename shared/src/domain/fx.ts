/**
 * Currency conversion of a wager into its jackpot's currency.
 *
 * A **rate** is configured per ordered pair of currencies (`jackpot.fx_rates`) as `rateMicro`:
 * 1 minor unit of the wager's currency is worth `rateMicro / 1,000,000` minor units of the
 * jackpot's. So `amountMinor × rateMicro` is the wager's value in micro-units of the jackpot's
 * currency, exactly, with no division.
 *
 * A pool's share of that is `floor(convertedMicro × ppm / 1,000,000)`: a converted wager can be
 * worth a fraction of a micro-unit times a share, and the pool keeps only whole micro-units. The
 * sub-micro remainder (less than one micro-unit per wager and pool) is not pool money: it stays
 * with the operator as part of the wager, like the rest of the stake the pool does not take. So
 * nothing is lost from the pool's books: the ledger row records exactly what the pool got, and the
 * sum of the rows still equals the pool's change exactly. Without conversion the formula is the
 * familiar `amountMinor × ppm`, with no remainder at all.
 *
 * The ledger keeps the wager as sent (`wagerMinor` in its own currency) together with the currency
 * and the rate used, so every contribution can be recomputed from its row.
 */

import { MICRO_PER_MINOR, PPM_MAX } from './contribution.js';

/**
 * The largest rate that can be configured: 9,000 minor units of the jackpot's currency per minor
 * unit of the wager's (a fils of Kuwaiti dinar is ~5,200 Indonesian sen). Ledger amounts are
 * bigint micro-units; the largest wager (1e9 minor) times this rate is 9e18, just inside bigint's
 * 9.22e18. A larger rate would let one wager overflow its ledger row and fail every window it is in.
 */
export const MAX_FX_RATE_MICRO = 9_000_000_000;

/** Whether a rate can be configured: a whole number from 1 to MAX_FX_RATE_MICRO. */
export function isValidFxRateMicro(rateMicro: unknown): rateMicro is number {
  return (
    typeof rateMicro === 'number' &&
    Number.isSafeInteger(rateMicro) &&
    rateMicro >= 1 &&
    rateMicro <= MAX_FX_RATE_MICRO
  );
}

/** Rates by `"FROM>TO"` (see `fxRateKey`), in micro-units of TO per minor unit of FROM. */
export type FxRates = ReadonlyMap<string, bigint>;

/** The key of a rate in `FxRates`: `fxRateKey('USD', 'EUR') === 'USD>EUR'`. */
export function fxRateKey(fromCurrency: string, toCurrency: string): string {
  return `${fromCurrency}>${toCurrency}`;
}

/** A wager's value in the jackpot's currency, and the rate that made it (null: same currency). */
export interface WagerValue {
  /** In micro-units of the jackpot's currency. */
  readonly wagerMicro: bigint;
  readonly fxRateMicro: bigint | null;
}

function checkAmount(amountMinor: number): void {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new RangeError(`amountMinor must be a non-negative safe integer, got ${amountMinor}`);
  }
}

/** `amountMinor × rateMicro`: the converted wager in micro-units of the target currency, exact. */
export function convertMinorToMicro(amountMinor: number, rateMicro: bigint): bigint {
  checkAmount(amountMinor);
  if (rateMicro <= 0n) throw new RangeError(`rateMicro must be positive, got ${rateMicro}`);
  return BigInt(amountMinor) * rateMicro;
}

/**
 * Whether a wager in `wagerCurrency` can be valued in `jackpotCurrency`: the same currency, or a
 * rate for the pair. Exactly when `valueInJackpotCurrency` does not return null.
 */
export function canValueIn(wagerCurrency: string, jackpotCurrency: string, rates: FxRates): boolean {
  return wagerCurrency === jackpotCurrency || rates.has(fxRateKey(wagerCurrency, jackpotCurrency));
}

/**
 * The value of a wager in its jackpot's currency, or null when the currencies differ and no rate
 * is configured for the pair (the caller rejects the wager as `currency_mismatch`). Throws a
 * RangeError on a rate that is not positive: the table forbids it, so it is a loading bug.
 */
export function valueInJackpotCurrency(
  amountMinor: number,
  wagerCurrency: string,
  jackpotCurrency: string,
  rates: FxRates,
): WagerValue | null {
  if (wagerCurrency === jackpotCurrency) {
    checkAmount(amountMinor);
    return { wagerMicro: BigInt(amountMinor) * MICRO_PER_MINOR, fxRateMicro: null };
  }
  const rate = rates.get(fxRateKey(wagerCurrency, jackpotCurrency));
  if (rate === undefined) return null;
  return { wagerMicro: convertMinorToMicro(amountMinor, rate), fxRateMicro: rate };
}

/**
 * A share of a wager worth `wagerMicro` micro-units: `floor(wagerMicro × ppm / 1e6)`. Exact (no
 * remainder) whenever `wagerMicro` is whole minor units, i.e. without conversion.
 */
export function shareMicro(wagerMicro: bigint, ppm: number): bigint {
  if (wagerMicro < 0n) throw new RangeError(`wagerMicro must be non-negative, got ${wagerMicro}`);
  if (!Number.isInteger(ppm) || ppm < 0 || ppm > PPM_MAX) {
    throw new RangeError(`ppm must be an integer from 0 to ${PPM_MAX}, got ${ppm}`);
  }
  // Both operands are non-negative, so BigInt's truncating division is the floor.
  return (wagerMicro * BigInt(ppm)) / MICRO_PER_MINOR;
}
