/**
 * API keys for the gateway. A key is `jk_<role>_<43 base64url characters>` (32 random bytes, 256
 * bits); only its SHA-256 is stored. A slow password hash would add nothing: nobody can guess 256
 * random bits, and a fast hash keeps verification one indexed lookup. The role in the key's text
 * is for humans reading logs and configs; the role that counts is the stored one.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { AppError } from './errors.js';

type Queryable = Pick<pg.Pool, 'query'>;

export type ApiKeyRole = 'game' | 'admin';
export const API_KEY_ROLES: readonly ApiKeyRole[] = ['game', 'admin'];

export interface ApiKeyIdentity {
  readonly keyId: string;
  readonly role: ApiKeyRole;
  readonly name: string;
}

/** Printable, no control characters; long enough for "studio-x production server eu-west-1". */
const NAME = /^[\p{L}\p{N}\p{P}\p{S} ]{1,100}$/u;
const KEY = /^jk_(game|admin)_[A-Za-z0-9_-]{43}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a key and returns it; this is the only time the key itself exists outside its holder. */
export async function createApiKey(
  db: Queryable,
  opts: { role: ApiKeyRole; name: string },
): Promise<{ keyId: string; key: string }> {
  if (!API_KEY_ROLES.includes(opts.role)) {
    throw new AppError(
      'INVALID_INPUT',
      `role must be one of ${API_KEY_ROLES.join(', ')}, got ${JSON.stringify(opts.role)}`,
    );
  }
  if (!NAME.test(opts.name) || opts.name.trim() === '') {
    throw new AppError('INVALID_INPUT', 'name must be 1 to 100 printable characters');
  }
  const key = `jk_${opts.role}_${randomBytes(32).toString('base64url')}`;
  // The id is what logs and metrics may show; it reveals nothing about the key.
  const keyId = `key_${randomBytes(8).toString('hex')}`;
  await db.query('INSERT INTO jackpot.api_keys (key_id, name, role, key_hash) VALUES ($1, $2, $3, $4)', [
    keyId,
    opts.name,
    opts.role,
    hashApiKey(key),
  ]);
  return { keyId, key };
}

/** The key's identity, or null when it is malformed, unknown or revoked. */
export async function verifyApiKey(db: Queryable, key: string): Promise<ApiKeyIdentity | null> {
  // Malformed keys never reach the database: garbage in an Authorization header costs nothing.
  if (!KEY.test(key)) return null;
  const result = await db.query<{ key_id: string; role: ApiKeyRole; name: string }>(
    'SELECT key_id, role, name FROM jackpot.api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
    [hashApiKey(key)],
  );
  const row = result.rows[0];
  return row === undefined ? null : { keyId: row.key_id, role: row.role, name: row.name };
}
