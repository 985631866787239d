/**
 * The one thing the run loop needs from a path into the pipeline: hand it an event, learn once
 * whether the pipeline acknowledged it. Kafka (`kafka-sender.ts`) and the gateway
 * (`http-sender.ts`) implement it.
 */
import type { TrafficEvent } from './traffic.js';

export type Outcome =
  { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

export interface SenderStats {
  /** Attempts repeated after a retryable failure (same eventIds: safe, they dedupe). */
  readonly retries: number;
  /** Times the gateway answered 429 and we waited its Retry-After. */
  readonly throttled: number;
}

export interface Sender {
  connect(): Promise<void>;
  /**
   * Resolves once, when the event is acknowledged or given up on after retries; never rejects.
   * `urgent` skips batching (the latency probe must not wait for a batch to fill).
   */
  send(event: TrafficEvent, opts?: { urgent?: boolean }): Promise<Outcome>;
  /** Sends whatever is waiting for a batch now. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): SenderStats;
  /** Set when going on is pointless (the gateway refused the API key); the run stops with it. */
  fatal(): Error | null;
}

/** Exponential backoff with jitter: 100 ms doubling to 5 s, each ×0.5..1. */
export function backoffMs(attempt: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
