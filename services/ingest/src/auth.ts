/**
 * Who is calling: the Bearer key of a request, verified against Postgres and remembered for a
 * while so a hot key is not one query per request.
 */
import NodeCache from 'node-cache';
import { hashApiKey, type ApiKeyIdentity } from '../../../shared/src/api-keys.js';

/** The key of `Authorization: Bearer <key>`, or null when the header is absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

export interface KeyVerifier {
  /** The identity, or null for an unknown or revoked key. Rejects when the database fails. */
  verify(key: string): Promise<ApiKeyIdentity | null>;
  close(): void;
}

/**
 * Caches successful verifications for `ttlSeconds`: a revoked key keeps working here for up to that
 * long. Unknown keys are not cached (a flood of made-up keys must not fill memory), but concurrent
 * lookups of one key share a single query, so a cold cache under load is one query, not hundreds.
 * Entries are keyed by the key's SHA-256, so raw keys are never kept in memory longer than a request.
 */
export function createKeyVerifier(opts: {
  lookup: (key: string) => Promise<ApiKeyIdentity | null>;
  ttlSeconds: number;
}): KeyVerifier {
  const cache = new NodeCache({
    stdTTL: opts.ttlSeconds,
    checkperiod: Math.max(1, opts.ttlSeconds),
    useClones: false,
  });
  const inFlight = new Map<string, Promise<ApiKeyIdentity | null>>();
  return {
    verify(key) {
      const hash = hashApiKey(key);
      const cached = cache.get<ApiKeyIdentity>(hash);
      if (cached !== undefined) return Promise.resolve(cached);
      let pending = inFlight.get(hash);
      if (pending === undefined) {
        pending = opts.lookup(key).then(
          (identity) => {
            inFlight.delete(hash);
            if (identity !== null) cache.set(hash, identity);
            return identity;
          },
          (e: unknown) => {
            inFlight.delete(hash);
            throw e;
          },
        );
        inFlight.set(hash, pending);
      }
      return pending;
    },
    close() {
      cache.close();
    },
  };
}
