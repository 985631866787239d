/**
 * Token buckets by a string key, kept in this process's memory: a restart refills every bucket,
 * and N gateways allow N times the rate, which is the price of not asking a shared store on every
 * request. The gateway keeps three: wagers per API key (counted in wagers, a request of 500 costs
 * 500), claims per API key, and failed authentications per client address.
 */
import { createBucketState, take, type BucketState } from '../../../shared/src/domain/token-bucket.js';
import type { RateLimitConfig } from './config.js';

export type RateDecision =
  | { readonly allowed: true }
  /** `retryAfterSeconds` is a whole number ≥ 1, for the Retry-After header. */
  | { readonly allowed: false; readonly retryAfterSeconds: number }
  /** More than the bucket can ever hold: waiting will not help. */
  | { readonly allowed: false; readonly retryAfterSeconds: null };

export interface RateLimiter {
  /** Takes `cost` tokens from `key`'s bucket if it holds them; a refusal takes nothing. */
  take(key: string, cost: number, nowMs: number): RateDecision;
  /** What `take` would answer, without taking anything. */
  check(key: string, cost: number, nowMs: number): RateDecision;
  /** Gives back `cost` tokens taken earlier (up to the burst): a reservation that was not needed. */
  refund(key: string, cost: number): void;
}

export interface RateLimiterOptions {
  /**
   * Most buckets kept; beyond it the least recently used is forgotten (it starts full again when
   * its key comes back). Needed when keys come from the network (client addresses); API keys are
   * created by operators, a few hundred at most, and need no bound.
   */
  readonly maxKeys?: number;
}

export function createRateLimiter(config: RateLimitConfig, opts: RateLimiterOptions = {}): RateLimiter {
  const bucket = { capacity: config.burst, refillPerSecond: config.perSecond };
  const maxKeys = opts.maxKeys ?? Number.POSITIVE_INFINITY;
  // Map order is insertion order: re-inserting on every use keeps the least recently used first.
  const states = new Map<string, BucketState>();

  function store(key: string, state: BucketState): void {
    states.delete(key);
    states.set(key, state);
    while (states.size > maxKeys) {
      const oldest = states.keys().next();
      if (oldest.done === true) break;
      states.delete(oldest.value);
    }
  }

  function decide(key: string, cost: number, nowMs: number, commit: boolean): RateDecision {
    const state = states.get(key) ?? createBucketState(bucket.capacity, nowMs);
    const result = take(state, bucket, nowMs, cost);
    if (commit) store(key, result.state);
    if (result.allowed) return { allowed: true };
    if (!Number.isFinite(result.retryAfterMs)) return { allowed: false, retryAfterSeconds: null };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) };
  }

  return {
    take: (key, cost, nowMs) => decide(key, cost, nowMs, true),
    check: (key, cost, nowMs) => decide(key, cost, nowMs, false),
    refund(key, cost) {
      const state = states.get(key);
      if (state === undefined) return;
      store(key, { tokens: Math.min(bucket.capacity, state.tokens + cost), updatedAtMs: state.updatedAtMs });
    },
  };
}
