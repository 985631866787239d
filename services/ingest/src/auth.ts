/**
 * Who is calling: the Bearer key of a request, verified against Postgres and remembered briefly so
 * a hot key is not one query per request, while unknown keys and the addresses that send them
 * cannot turn into a query each.
 *
 * - A verified key is trusted for `trustedKeyTtlMs` (≤ 5 s, counted from when its lookup started),
 *   so a revoked key is refused by every gateway within 5 s.
 * - A key that did not verify (unknown or revoked) is remembered as such by its hash for a minute:
 *   sending it again costs no query.
 * - Every failed authentication takes a token from the client address's bucket; an address whose
 *   bucket is empty gets 429 with Retry-After and no lookup. A key never seen by this gateway
 *   reserves its token before the lookup (given back when the key verifies), so many concurrent
 *   guesses cannot all pass the check before the first one fails. A key this gateway verified
 *   before is re-checked whatever its address did: a neighbour's bad key behind the same NAT or
 *   proxy must not lock out working game servers.
 *
 * Entries are keyed by the key's SHA-256, so raw keys are never kept in memory longer than a request.
 */
import { hashApiKey, isWellFormedApiKey, type ApiKeyIdentity } from '../../../shared/src/api-keys.js';
import type { AuthConfig } from './config.js';
import { createRateLimiter } from './rate-limiter.js';

/** The contract: a revoked key is refused within 5 s. */
const MAX_TRUSTED_KEY_TTL_MS = 5_000;
/**
 * An unknown key stays unknown (keys are 256 random bits, created only by `keys create`), so the
 * only cost of remembering it longer is memory; a minute bounds that, with at most this many.
 */
const UNKNOWN_KEY_TTL_MS = 60_000;
const MAX_UNKNOWN_KEYS = 10_000;
/** Failure buckets kept, least recently used forgotten first: ~100 bytes each. */
const MAX_ADDRESSES = 100_000;

/** The key of `Authorization: Bearer <key>`, or null when the header is absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

export type AuthRefusal = 'missing_key' | 'unknown_key' | 'too_many_failures';

export type AuthResult =
  | { readonly ok: true; readonly identity: ApiKeyIdentity }
  | { readonly ok: false; readonly status: 401; readonly reason: AuthRefusal; readonly message: string }
  | {
      readonly ok: false;
      readonly status: 429;
      readonly reason: AuthRefusal;
      readonly message: string;
      readonly retryAfterSeconds: number;
    };

export interface Authenticator {
  /** Rejects only when the database fails (the caller answers 503). */
  authenticate(authorization: string | undefined, address: string): Promise<AuthResult>;
}

export interface AuthenticatorOptions extends AuthConfig {
  /** The identity of a well-formed key, or null when unknown or revoked. */
  readonly lookup: (key: string) => Promise<ApiKeyIdentity | null>;
  readonly now?: () => number;
  /** Told after each database lookup, for metrics. */
  readonly onLookup?: (found: boolean) => void;
  /** Told of each refusal, for metrics. */
  readonly onRefused?: (reason: AuthRefusal) => void;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  if (!(opts.trustedKeyTtlMs > 0 && opts.trustedKeyTtlMs <= MAX_TRUSTED_KEY_TTL_MS)) {
    throw new RangeError(
      `trustedKeyTtlMs must be 1 to ${MAX_TRUSTED_KEY_TTL_MS}, got ${opts.trustedKeyTtlMs}`,
    );
  }
  const now = opts.now ?? Date.now;
  /** Keys that verified, by hash; kept after their trust expires as "known" (re-checked, not limited). */
  const verified = new Map<string, { identity: ApiKeyIdentity; trustedUntilMs: number }>();
  /** Hashes that did not verify, with when to forget them; insertion order is age order. */
  const unknown = new Map<string, number>();
  const failures = createRateLimiter(opts.failures, { maxKeys: MAX_ADDRESSES });
  const inFlight = new Map<string, Promise<ApiKeyIdentity | null>>();

  function rememberUnknown(hash: string, nowMs: number): void {
    unknown.delete(hash);
    unknown.set(hash, nowMs + UNKNOWN_KEY_TTL_MS);
    while (unknown.size > MAX_UNKNOWN_KEYS) {
      const oldest = unknown.keys().next();
      if (oldest.done === true) break;
      unknown.delete(oldest.value);
    }
  }

  /** One query per key at a time: concurrent requests with one key share it. */
  function lookup(hash: string, key: string): Promise<ApiKeyIdentity | null> {
    let pending = inFlight.get(hash);
    if (pending !== undefined) return pending;
    const startedMs = now();
    pending = opts.lookup(key).then(
      (identity) => {
        inFlight.delete(hash);
        opts.onLookup?.(identity !== null);
        if (identity === null) {
          verified.delete(hash);
          rememberUnknown(hash, startedMs);
        } else {
          // From the start of the lookup: the row was read after this instant, so a revocation
          // committed later is seen by the next lookup, at most the TTL after it.
          verified.set(hash, { identity, trustedUntilMs: startedMs + opts.trustedKeyTtlMs });
          unknown.delete(hash);
        }
        return identity;
      },
      (e: unknown) => {
        inFlight.delete(hash);
        throw e;
      },
    );
    inFlight.set(hash, pending);
    return pending;
  }

  function refuse(reason: AuthRefusal, message: string): AuthResult {
    opts.onRefused?.(reason);
    return { ok: false, status: 401, reason, message };
  }

  function limited(retryAfterSeconds: number | null): AuthResult {
    opts.onRefused?.('too_many_failures');
    const seconds = retryAfterSeconds ?? 1;
    return {
      ok: false,
      status: 429,
      reason: 'too_many_failures',
      retryAfterSeconds: seconds,
      message: `too many failed authentications from this address; retry after ${seconds} s`,
    };
  }

  /** A failure that needed no lookup: it takes its token now. */
  function fail(address: string, reason: AuthRefusal, message: string): AuthResult {
    const taken = failures.take(address, 1, now());
    return taken.allowed ? refuse(reason, message) : limited(taken.retryAfterSeconds);
  }

  const UNKNOWN = 'unknown or revoked API key';

  return {
    async authenticate(authorization, address) {
      const key = bearerToken(authorization);
      if (key === null) return fail(address, 'missing_key', 'missing Authorization: Bearer <api key>');
      if (!isWellFormedApiKey(key)) return fail(address, 'unknown_key', UNKNOWN);
      const hash = hashApiKey(key);
      const nowMs = now();
      const known = verified.get(hash);
      if (known !== undefined && nowMs < known.trustedUntilMs) return { ok: true, identity: known.identity };

      if (known !== undefined) {
        // Verified before: ask again (it may have been revoked), whatever this address's failures.
        const identity = await lookup(hash, key);
        if (identity !== null) return { ok: true, identity };
        return fail(address, 'unknown_key', UNKNOWN);
      }

      const reserved = failures.take(address, 1, nowMs);
      if (!reserved.allowed) return limited(reserved.retryAfterSeconds);
      const until = unknown.get(hash);
      if (until !== undefined && nowMs < until) return refuse('unknown_key', UNKNOWN);
      let identity: ApiKeyIdentity | null;
      try {
        identity = await lookup(hash, key);
      } catch (e) {
        failures.refund(address, 1);
        throw e;
      }
      if (identity === null) return refuse('unknown_key', UNKNOWN);
      failures.refund(address, 1);
      return { ok: true, identity };
    },
  };
}
