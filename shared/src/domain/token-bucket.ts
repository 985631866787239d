/**
 * Token bucket for per-API-key rate limits. Immutable: `take` returns a new state and the caller
 * stores it. Numbers, not BigInt: tokens are not money, and a rounding error of 1e-12 of a token
 * is harmless (it is absorbed by `EPSILON` below so that waiting `retryAfterMs` always suffices).
 */

export interface BucketState {
  /** Tokens available at `updatedAtMs`, 0..capacity, possibly fractional. */
  readonly tokens: number;
  readonly updatedAtMs: number;
}

export interface BucketConfig {
  /** Burst size: the most tokens the bucket holds. */
  readonly capacity: number;
  /** Sustained rate. 0 means the bucket never refills. */
  readonly refillPerSecond: number;
}

export interface TakeResult {
  readonly state: BucketState;
  readonly allowed: boolean;
  /**
   * 0 when allowed; otherwise how long until the same `take` would succeed, rounded up to a whole
   * millisecond. `Infinity` when it never can (cost above capacity, or no refill).
   */
  readonly retryAfterMs: number;
}

const EPSILON = 1e-9;

/** A full bucket. */
export function createBucketState(capacity: number, nowMs: number): BucketState {
  if (!Number.isFinite(capacity) || capacity <= 0)
    throw new RangeError(`capacity must be positive, got ${capacity}`);
  return { tokens: capacity, updatedAtMs: nowMs };
}

/**
 * Refills for the time since the last call, then takes `cost` tokens if there are enough. A denied
 * take changes no tokens (only the refill is recorded). A clock that goes backwards refills nothing
 * and does not move `updatedAtMs` back, so a skewed clock cannot mint tokens.
 */
export function take(state: BucketState, cfg: BucketConfig, nowMs: number, cost = 1): TakeResult {
  if (!Number.isFinite(cfg.capacity) || cfg.capacity <= 0) {
    throw new RangeError(`capacity must be positive, got ${cfg.capacity}`);
  }
  if (!Number.isFinite(cfg.refillPerSecond) || cfg.refillPerSecond < 0) {
    throw new RangeError(`refillPerSecond must be non-negative, got ${cfg.refillPerSecond}`);
  }
  if (!Number.isFinite(cost) || cost < 0) throw new RangeError(`cost must be non-negative, got ${cost}`);

  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  const tokens = Math.min(cfg.capacity, state.tokens + (elapsedMs * cfg.refillPerSecond) / 1000);
  const updatedAtMs = Math.max(state.updatedAtMs, nowMs);

  if (tokens + EPSILON >= cost) {
    return { state: { tokens: Math.max(0, tokens - cost), updatedAtMs }, allowed: true, retryAfterMs: 0 };
  }
  const retryAfterMs =
    cost > cfg.capacity || cfg.refillPerSecond === 0
      ? Number.POSITIVE_INFINITY
      : waitMs(cost - tokens, cfg.refillPerSecond);
  return { state: { tokens, updatedAtMs }, allowed: false, retryAfterMs };
}

/**
 * Whole milliseconds until `deficit` tokens have refilled, at least 1. A quotient that is an
 * integer up to float noise (0.001 tokens at 1/s is 1.0000000000000009 ms) is not rounded up to the
 * next millisecond: the noise is far below `EPSILON` tokens, which `take` forgives.
 */
function waitMs(deficit: number, refillPerSecond: number): number {
  const exact = (deficit * 1000) / refillPerSecond;
  const nearest = Math.round(exact);
  const noiseMs = (EPSILON * 1000) / refillPerSecond / 2;
  return Math.max(1, Math.abs(exact - nearest) <= noiseMs ? nearest : Math.ceil(exact));
}
