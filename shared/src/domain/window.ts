/**
 * The micro-batch window: events are buffered and written together, trading a little latency for
 * far fewer transactions. A window closes when it is full or when its oldest event has waited long
 * enough, whichever comes first.
 */

export interface WindowState {
  /** Events buffered. */
  readonly events: number;
  /** When the oldest buffered event arrived (epoch ms); `null` or ignored when `events` is 0. */
  readonly oldestAtMs: number | null;
}

export interface WindowLimits {
  /** Flush at this many events: bounds the transaction size and memory. */
  readonly maxEvents: number;
  /** Flush when the oldest event has waited this long: bounds the added latency. */
  readonly maxWaitMs: number;
}

/** True when the buffer should be written now. An empty buffer never flushes. */
export function shouldFlush(window: WindowState, nowMs: number, limits: WindowLimits): boolean {
  return msUntilFlush(window, nowMs, limits) === 0;
}

/**
 * Milliseconds until the window must be flushed: 0 when due now, `null` when the buffer is empty
 * (no timer is needed until an event arrives).
 */
export function msUntilFlush(window: WindowState, nowMs: number, limits: WindowLimits): number | null {
  if (window.events <= 0) return null;
  if (window.events >= limits.maxEvents) return 0;
  // With events buffered the age is known; a missing one is treated as due rather than never.
  if (window.oldestAtMs === null) return 0;
  return Math.max(0, window.oldestAtMs + limits.maxWaitMs - nowMs);
}
