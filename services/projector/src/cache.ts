/**
 * The warm and cold cache tiers (cache-policy.ts names them): answers of the read API kept as the
 * bytes sent, in node-cache, each tier with its own TTL, key count and byte limit, and counted
 * hits and misses for `projector.cache.requests`.
 *
 * A miss loads once: requests for the same key while its query runs share it, so a burst of
 * displays asking the same thing costs Postgres one query. Invalidation:
 * - by key or pattern (`invalidate`): gone at once;
 * - by event (`settle`): a pool changed, so what was computed before it is stale; it expires
 *   `settleMs` later at most (cache-policy.ts `settledExpiry`), and a load running at the time is
 *   answered but not kept.
 */
import NodeCache from 'node-cache';
import {
  evictionsFor,
  keyMatcher,
  settledExpiry,
  type CacheTierName,
  type SizedEntry,
} from './cache-policy.js';

export interface TierLimits {
  /** Default time to live of an entry. */
  readonly ttlMs: number;
  readonly maxKeys: number;
  /** Of the cached bodies; a body larger than this is served and not cached. */
  readonly maxBytes: number;
}

export interface TierStats {
  readonly tier: CacheTierName;
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly bytes: number;
}

export interface CacheTier {
  readonly name: CacheTierName;
  /** The cached body under `key`, or `load()`'s (kept for `ttlMs`, at most the tier's TTL). */
  getOrLoad(key: string, load: () => Promise<Buffer>, ttlMs?: number): Promise<Buffer>;
  /** Drops `pattern`'s entries (a key, or a glob with `*`) at once; returns how many. */
  invalidate(pattern: string): number;
  /** `pattern`'s entries expire within `settleMs`; loads running now are not kept. Returns how many. */
  settle(pattern: string, settleMs: number): number;
  stats(): TierStats;
  close(): void;
}

export function createCacheTier(name: CacheTierName, limits: TierLimits): CacheTier {
  // checkperiod: expired entries are dropped when read, and swept once a minute (node-cache's timer
  // is unref'd) so that their bytes do not count against the limit for long.
  const cache = new NodeCache({ stdTTL: limits.ttlMs / 1000, checkperiod: 60, useClones: false });
  const sizes = new Map<string, number>();
  let bytes = 0;
  cache.on('del', (key: string) => {
    bytes -= sizes.get(key) ?? 0;
    sizes.delete(key);
  });
  cache.on('flush', () => {
    sizes.clear();
    bytes = 0;
  });
  const loading = new Map<string, { promise: Promise<Buffer>; stale: boolean }>();
  let hits = 0;
  let misses = 0;
  // Settling a pattern again finds nothing to shorten unless an entry was stored or a load started
  // since (the earlier settle already set every expiry within settleMs of an earlier event); under
  // load pools change hundreds of times a second, so those passes over the keys are skipped.
  let writes = 0;
  const settledAt = new Map<string, number>();

  const matching = (pattern: string): string[] => cache.keys().filter(keyMatcher(pattern));

  const store = (key: string, body: Buffer, ttlMs: number): void => {
    const entries: SizedEntry[] = [...sizes].map(([k, b]) => ({
      key: k,
      bytes: b,
      expiresAtMs: cache.getTtl(k) ?? 0,
    }));
    const evict = evictionsFor(entries, { key, bytes: body.length }, limits);
    if (evict === null) return;
    if (evict.length > 0) cache.del(evict);
    if (sizes.has(key)) cache.del(key);
    cache.set(key, body, ttlMs / 1000);
    sizes.set(key, body.length);
    bytes += body.length;
    writes++;
  };

  return {
    name,
    getOrLoad(key, load, ttlMs = limits.ttlMs) {
      const cached = cache.get<Buffer>(key);
      if (cached !== undefined) {
        hits++;
        return Promise.resolve(cached);
      }
      misses++;
      const running = loading.get(key);
      if (running !== undefined) return running.promise;
      const entry = { promise: load(), stale: false };
      loading.set(key, entry);
      writes++;
      entry.promise.then(
        (body) => {
          loading.delete(key);
          if (!entry.stale) store(key, body, Math.min(ttlMs, limits.ttlMs));
        },
        () => loading.delete(key),
      );
      return entry.promise;
    },
    invalidate(pattern) {
      const match = keyMatcher(pattern);
      for (const [key, l] of loading) if (match(key)) l.stale = true;
      const keys = matching(pattern);
      return cache.del(keys);
    },
    settle(pattern, settleMs) {
      if (settledAt.get(pattern) === writes) return 0;
      if (settledAt.size >= 10_000) settledAt.clear();
      settledAt.set(pattern, writes);
      const match = keyMatcher(pattern);
      for (const [key, l] of loading) if (match(key)) l.stale = true;
      const now = Date.now();
      let n = 0;
      for (const key of matching(pattern)) {
        const expiresAt = cache.getTtl(key);
        if (expiresAt === undefined || expiresAt === 0) continue;
        const at = settledExpiry(expiresAt, now, settleMs);
        if (at < expiresAt) {
          // node-cache reads a TTL of 0 as "never": an entry already due goes now.
          if (at <= now) cache.del(key);
          else cache.ttl(key, (at - now) / 1000);
          n++;
        }
      }
      return n;
    },
    stats: () => ({ tier: name, hits, misses, entries: sizes.size, bytes }),
    close() {
      cache.flushAll();
      cache.close();
    },
  };
}

/** The hot tier's counts: the pool store is its storage; the routes count what they read. */
export interface HotTierCounts {
  hits: number;
  misses: number;
}
