/**
 * The rules of the projector's cache tiers, pure (no cache, no clock): which keys a pattern
 * names, what to evict to make room, and which answers a pool change makes stale.
 *
 * Tiers (the guide's hot / warm / cold):
 * - **hot**: the pool totals (`store.ts`), kept current by the update stream and the resync, never
 *   expired; `GET /v1/pools` and `GET /v1/pools/{poolId}` read only this tier.
 * - **warm**: statistics and recent wins, asked often, minutes of TTL.
 * - **cold**: per-hour pool history, asked rarely, half an hour of TTL.
 *
 * Keys (every part of them a value the API validated; jackpot ids never contain `:` or `@`):
 * - `history:{poolId}:{fromMs}:{toMs}` (cold)
 * - `stats:jackpots:{fromMs}:{toMs}` (warm)
 * - `stats:games:{jackpotId | @all}:{fromMs}:{toMs}:{limit}` (warm)
 * - `wins:recent` (warm)
 */

export type CacheTierName = 'hot' | 'warm' | 'cold';

const ALL_JACKPOTS = '@all';

export const cacheKeys = {
  history: (poolId: string, fromMs: number, toMs: number): string => `history:${poolId}:${fromMs}:${toMs}`,
  jackpotStats: (fromMs: number, toMs: number): string => `stats:jackpots:${fromMs}:${toMs}`,
  gameStats: (jackpotId: string | null, fromMs: number, toMs: number, limit: number): string =>
    `stats:games:${jackpotId ?? ALL_JACKPOTS}:${fromMs}:${toMs}:${limit}`,
  recentWins: 'wins:recent',
} as const;

/** A glob: `*` stands for any run of characters (`:` included), everything else for itself. */
export function keyMatcher(pattern: string): (key: string) => boolean {
  if (!pattern.includes('*')) return (key) => key === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return (key) => re.test(key);
}

/**
 * A pool changed (a newer version from the topic or Postgres). `previousCycle` is the cycle it had
 * before, undefined for a pool not held until now. Returns the patterns of the answers it makes
 * stale: its history, the statistics its jackpot is in, and the recent wins when the cycle moved
 * (a win ends a cycle).
 */
export function stalePatterns(change: {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly cycle: number;
  readonly previousCycle: number | undefined;
}): string[] {
  const patterns = [
    `history:${change.poolId}:*`,
    'stats:jackpots:*',
    `stats:games:${change.jackpotId}:*`,
    `stats:games:${ALL_JACKPOTS}:*`,
  ];
  if (change.previousCycle === undefined || change.cycle !== change.previousCycle)
    patterns.push(cacheKeys.recentWins);
  return patterns;
}

/**
 * When an entry stale by an event expires: `settleMs` after the event at most, or earlier if it
 * was going to. The grace bounds how far behind Postgres a cached answer is (the contract allows
 * the pools about a second; the same here) while a pool that changes every few milliseconds under
 * load costs one query a second per answer, not one per change.
 */
export function settledExpiry(expiresAtMs: number, nowMs: number, settleMs: number): number {
  return Math.min(expiresAtMs, nowMs + settleMs);
}

export interface SizedEntry {
  readonly key: string;
  readonly bytes: number;
  readonly expiresAtMs: number;
}

/**
 * What to evict so that a value of `bytes` under `key` fits within `maxKeys` and `maxBytes`:
 * the entries closest to expiring first (they were worth least), ties by key. `null` when the
 * value alone is over `maxBytes`: it is served, not cached. An entry under the same key is
 * replaced, not counted.
 */
export function evictionsFor(
  entries: readonly SizedEntry[],
  incoming: { readonly key: string; readonly bytes: number },
  limits: { readonly maxKeys: number; readonly maxBytes: number },
): string[] | null {
  if (incoming.bytes > limits.maxBytes) return null;
  const others = entries.filter((e) => e.key !== incoming.key);
  let keys = others.length + 1;
  let bytes = others.reduce((sum, e) => sum + e.bytes, incoming.bytes);
  const out: string[] = [];
  const byExpiry = [...others].sort(
    (a, b) => a.expiresAtMs - b.expiresAtMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  for (const e of byExpiry) {
    if (keys <= limits.maxKeys && bytes <= limits.maxBytes) break;
    out.push(e.key);
    keys -= 1;
    bytes -= e.bytes;
  }
  return out;
}
