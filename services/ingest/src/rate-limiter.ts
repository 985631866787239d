/**
 * Per-API-key token buckets, counted in wagers (a request of 500 wagers costs 500). Kept in this
 * process's memory: a restart refills every bucket, and N gateways allow N times the rate, which
 * is the price of not asking a shared store on every request.
 */
import { createBucketState, take, type BucketState } from '../../../shared/src/domain/token-bucket.js';
import type { RateLimitConfig } from './config.js';

export type RateDecision =
  | { readonly allowed: true }
  /** `retryAfterSeconds` is a whole number ≥ 1, for the Retry-After header. */
  | { readonly allowed: false; readonly retryAfterSeconds: number }
  /** More wagers than the bucket can ever hold: waiting will not help. */
  | { readonly allowed: false; readonly retryAfterSeconds: null };

export interface RateLimiter {
  take(keyId: string, wagers: number, nowMs: number): RateDecision;
}

export function createRateLimiter(config: RateLimitConfig): RateLimiter {
  const bucket = { capacity: config.burst, refillPerSecond: config.perSecond };
  // One entry per API key: a few hundred at most, created by operators, so no eviction is needed.
  const states = new Map<string, BucketState>();
  return {
    take(keyId, wagers, nowMs) {
      const state = states.get(keyId) ?? createBucketState(bucket.capacity, nowMs);
      const result = take(state, bucket, nowMs, wagers);
      states.set(keyId, result.state);
      if (result.allowed) return { allowed: true };
      if (!Number.isFinite(result.retryAfterMs)) return { allowed: false, retryAfterSeconds: null };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) };
    },
  };
}
