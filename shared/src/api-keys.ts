/**
 * API keys for the gateway. A key is `jk_<role>_<43 base64url characters>` (32 random bytes, 256
 * bits); only its SHA-256 is stored. A slow password hash would add nothing: nobody can guess 256
 * random bits, and a fast hash keeps verification one indexed lookup. The role in the key's text
 * is for humans reading logs and configs; the role that counts is the stored one.
 *
 * Scope: a game key acts for the jackpots it names (wagers for their games, claims on their pools)
 * or, created with `--all-jackpots`, for every jackpot; game keys created before scopes existed
 * were migrated as all-jackpots keys (infra/migrations/0003_api_key_scopes.sql). An admin key acts
 * on the admin endpoints only (403 on wagers and wins). A revoked key stays in the table, refused, so `keys list` still shows it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { JACKPOT_ID_PATTERN } from './domain/jackpot-config.js';
import { AppError } from './errors.js';

type Queryable = Pick<pg.Pool, 'query'>;

export type ApiKeyRole = 'game' | 'admin';
export const API_KEY_ROLES: readonly ApiKeyRole[] = ['game', 'admin'];

/** The jackpots a key acts for: all of them, or those listed (none for an admin key). */
export type JackpotScope = 'all' | readonly string[];

export interface ApiKeyIdentity {
  readonly keyId: string;
  readonly role: ApiKeyRole;
  readonly name: string;
  /** Sorted and distinct when a list; `[]` for admin keys. */
  readonly jackpots: JackpotScope;
}

export type NewApiKey =
  | { readonly role: 'admin'; readonly name: string }
  | { readonly role: 'game'; readonly name: string; readonly jackpots: JackpotScope };

/** Printable, no control characters; long enough for "studio-x production server eu-west-1". */
const NAME = /^[\p{L}\p{N}\p{P}\p{S} ]{1,100}$/u;
const KEY = /^jk_(game|admin)_[A-Za-z0-9_-]{43}$/;
export const KEY_ID_PATTERN = /^key_[0-9a-f]{16}$/;
/** More would be a sign the key should be unscoped; a long list is also a long row read per lookup. */
const MAX_SCOPE_JACKPOTS = 100;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Whether `key` has the shape of a key at all; malformed keys never need a database lookup. */
export function isWellFormedApiKey(key: string): boolean {
  return KEY.test(key);
}

/** Whether the key may act for `jackpotId`. Admin keys act for no jackpot. */
export function keyCoversJackpot(
  identity: Pick<ApiKeyIdentity, 'role' | 'jackpots'>,
  jackpotId: string,
): boolean {
  if (identity.role !== 'game') return false;
  return identity.jackpots === 'all' || identity.jackpots.includes(jackpotId);
}

/** The scope as one word for logs and the command line: `(all jackpots)`, `(admin endpoints)` or `a,b`. */
export function describeScope(identity: Pick<ApiKeyIdentity, 'role' | 'jackpots'>): string {
  if (identity.role === 'admin') return '(admin endpoints)';
  // Parentheses and spaces never occur in jackpot ids, so this cannot be mistaken for a list.
  return identity.jackpots === 'all' ? '(all jackpots)' : identity.jackpots.join(',');
}

function checkScope(opts: NewApiKey): { allJackpots: boolean; jackpotIds: string[] } {
  if (opts.role === 'admin') {
    if ((opts as { jackpots?: unknown }).jackpots !== undefined) {
      throw new AppError(
        'INVALID_INPUT',
        'an admin key has no jackpot scope (it acts on admin endpoints only)',
      );
    }
    return { allJackpots: false, jackpotIds: [] };
  }
  const { jackpots } = opts as { jackpots?: unknown };
  if (jackpots === 'all') return { allJackpots: true, jackpotIds: [] };
  if (!Array.isArray(jackpots) || jackpots.length === 0) {
    throw new AppError('INVALID_INPUT', 'a game key needs a scope: a list of jackpot ids, or all jackpots');
  }
  const ids = [...new Set(jackpots as unknown[])];
  const bad = ids.filter((id) => typeof id !== 'string' || !JACKPOT_ID_PATTERN.test(id));
  if (bad.length > 0) {
    throw new AppError(
      'INVALID_INPUT',
      `jackpot ids are 1 to 64 characters of [A-Za-z0-9._-]; not ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
    );
  }
  if (ids.length > MAX_SCOPE_JACKPOTS) {
    throw new AppError(
      'INVALID_INPUT',
      `at most ${MAX_SCOPE_JACKPOTS} jackpots per key; use all jackpots instead`,
    );
  }
  return { allJackpots: false, jackpotIds: (ids as string[]).sort() };
}

/** Creates a key and returns it; this is the only time the key itself exists outside its holder. */
export async function createApiKey(db: Queryable, opts: NewApiKey): Promise<{ keyId: string; key: string }> {
  if (!API_KEY_ROLES.includes(opts.role)) {
    throw new AppError(
      'INVALID_INPUT',
      `role must be one of ${API_KEY_ROLES.join(', ')}, got ${JSON.stringify(opts.role)}`,
    );
  }
  if (!NAME.test(opts.name) || opts.name.trim() === '') {
    throw new AppError('INVALID_INPUT', 'name must be 1 to 100 printable characters');
  }
  const scope = checkScope(opts);
  const key = `jk_${opts.role}_${randomBytes(32).toString('base64url')}`;
  // The id is what logs and metrics may show; it reveals nothing about the key.
  const keyId = `key_${randomBytes(8).toString('hex')}`;
  await db.query(
    'INSERT INTO jackpot.api_keys (key_id, name, role, key_hash, all_jackpots, jackpot_ids) VALUES ($1, $2, $3, $4, $5, $6::text[])',
    [keyId, opts.name, opts.role, hashApiKey(key), scope.allJackpots, scope.jackpotIds],
  );
  return { keyId, key };
}

interface KeyRow {
  key_id: string;
  role: ApiKeyRole;
  name: string;
  all_jackpots: boolean;
  jackpot_ids: string[];
}

const toIdentity = (row: KeyRow): ApiKeyIdentity => ({
  keyId: row.key_id,
  role: row.role,
  name: row.name,
  jackpots: row.all_jackpots ? 'all' : row.jackpot_ids,
});

/** The key's identity, or null when it is malformed, unknown or revoked. */
export async function verifyApiKey(db: Queryable, key: string): Promise<ApiKeyIdentity | null> {
  // Malformed keys never reach the database: garbage in an Authorization header costs nothing.
  if (!isWellFormedApiKey(key)) return null;
  const result = await db.query<KeyRow>(
    'SELECT key_id, role, name, all_jackpots, jackpot_ids FROM jackpot.api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
    [hashApiKey(key)],
  );
  const row = result.rows[0];
  return row === undefined ? null : toIdentity(row);
}

export interface ApiKeyRecord extends ApiKeyIdentity {
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** Every key, revoked ones included, oldest first. Never the key itself: only its hash is stored. */
export async function listApiKeys(db: Queryable): Promise<ApiKeyRecord[]> {
  const result = await db.query<KeyRow & { created_at: Date; revoked_at: Date | null }>(
    'SELECT key_id, role, name, all_jackpots, jackpot_ids, created_at, revoked_at FROM jackpot.api_keys ORDER BY created_at, key_id',
  );
  return result.rows.map((r) => ({ ...toIdentity(r), createdAt: r.created_at, revokedAt: r.revoked_at }));
}

export type RevokeOutcome =
  | { readonly kind: 'revoked'; readonly revokedAt: Date; readonly name: string }
  | { readonly kind: 'already_revoked'; readonly revokedAt: Date; readonly name: string }
  | { readonly kind: 'not_found' };

/**
 * Marks the key revoked. Gateways trust a verified key for at most a few seconds
 * (services/ingest/src/auth.ts), so every gateway refuses it within 5 s of this commit.
 */
export async function revokeApiKey(db: Queryable, keyId: string): Promise<RevokeOutcome> {
  const updated = await db.query<{ revoked_at: Date; name: string }>(
    'UPDATE jackpot.api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING revoked_at, name',
    [keyId],
  );
  const row = updated.rows[0];
  if (row !== undefined) return { kind: 'revoked', revokedAt: row.revoked_at, name: row.name };
  const found = await db.query<{ revoked_at: Date; name: string }>(
    'SELECT revoked_at, name FROM jackpot.api_keys WHERE key_id = $1',
    [keyId],
  );
  const earlier = found.rows[0];
  return earlier === undefined
    ? { kind: 'not_found' }
    : { kind: 'already_revoked', revokedAt: earlier.revoked_at, name: earlier.name };
}
