/**
 * `keys create | list | revoke`: the gateway's API keys. The key itself is printed once, at
 * creation, alone on the last line of stdout (so `| tail -n 1` captures it); only its SHA-256 is
 * stored, so nothing can print it again.
 */
import type pg from 'pg';
import {
  API_KEY_ROLES,
  createApiKey,
  describeScope,
  KEY_ID_PATTERN,
  listApiKeys,
  revokeApiKey,
  type NewApiKey,
} from '../../../shared/src/api-keys.js';
import { commonConfig } from '../../../shared/src/config.js';
import { createPool } from '../../../shared/src/db.js';
import { AppError } from '../../../shared/src/errors.js';
import { parseFlags, UsageError } from './flags.js';

async function withDb<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = createPool(commonConfig(process.env).databaseUrl, { max: 1, applicationName: 'jackpot-cli' });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** The key to create, from the flags; every combination that is not one of the contract's is a usage error. */
function newKeyFromFlags(args: readonly string[]): NewApiKey {
  const flags = parseFlags(args, ['role', 'name', 'jackpots'], ['all-jackpots']);
  const role = flags.get('role');
  const name = flags.get('name');
  if (role === undefined || name === undefined) throw new UsageError('--role and --name are required');
  if (!(API_KEY_ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${API_KEY_ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  }
  const list = flags.get('jackpots');
  const all = flags.has('all-jackpots');
  if (role === 'admin') {
    if (list !== undefined || all)
      throw new UsageError('an admin key has no jackpot scope: drop --jackpots / --all-jackpots');
    return { role: 'admin', name };
  }
  if (list !== undefined && all) throw new UsageError('give either --jackpots or --all-jackpots, not both');
  if (all) return { role: 'game', name, jackpots: 'all' };
  if (list === undefined)
    throw new UsageError('a game key needs --jackpots J1,J2 (its scope) or --all-jackpots');
  const ids = list.split(',').map((s) => s.trim());
  if (ids.some((id) => id === ''))
    throw new UsageError(`--jackpots is a comma-separated list of jackpot ids, got ${JSON.stringify(list)}`);
  return { role: 'game', name, jackpots: ids };
}

export async function keysCreate(args: readonly string[]): Promise<number> {
  const spec = newKeyFromFlags(args);
  return withDb(async (pool) => {
    let created: { keyId: string; key: string };
    try {
      created = await createApiKey(pool, spec);
    } catch (e) {
      // A bad name or jackpot id is the operator's input: usage, not failure.
      if (e instanceof AppError && e.code === 'INVALID_INPUT') throw new UsageError(e.message);
      throw e;
    }
    if (spec.role === 'game' && spec.jackpots !== 'all') {
      // A key may be made before its jackpots are configured; a typo, though, makes a key that can do nothing.
      const { rows } = await pool.query<{ jackpot_id: string }>(
        'SELECT jackpot_id FROM jackpot.jackpots WHERE jackpot_id = ANY($1::text[])',
        [spec.jackpots],
      );
      const known = new Set(rows.map((r) => r.jackpot_id));
      const missing = spec.jackpots.filter((id) => !known.has(id));
      if (missing.length > 0)
        process.stderr.write(`warning: no jackpot ${missing.join(', ')} configured yet\n`);
    }
    const scope =
      spec.role === 'admin'
        ? 'admin endpoints only'
        : spec.jackpots === 'all'
          ? 'all jackpots'
          : `jackpots ${spec.jackpots.join(', ')}`;
    process.stderr.write(
      `created ${spec.role} key ${created.keyId} (${spec.name}; ${scope}); it is shown once, store it now:\n`,
    );
    process.stdout.write(`${created.key}\n`);
    return 0;
  });
}

/** One line a key: id, role, name, scope, created, revoked. Never the key (only its hash is stored). */
export async function keysList(args: readonly string[]): Promise<number> {
  parseFlags(args, []);
  return withDb(async (pool) => {
    const keys = await listApiKeys(pool);
    if (keys.length === 0) process.stderr.write('no API keys\n');
    for (const k of keys) {
      process.stdout.write(
        [
          k.keyId,
          k.role,
          // JSON-quoted: a name may contain spaces.
          `name=${JSON.stringify(k.name)}`,
          `scope=${describeScope(k)}`,
          `created=${k.createdAt.toISOString()}`,
          `revoked=${k.revokedAt === null ? 'no' : k.revokedAt.toISOString()}`,
        ].join('  ') + '\n',
      );
    }
    return 0;
  });
}

export async function keysRevoke(args: readonly string[]): Promise<number> {
  const [keyId, ...rest] = args;
  if (keyId === undefined || rest.length > 0) throw new UsageError('give exactly one KEY_ID (see keys list)');
  if (!KEY_ID_PATTERN.test(keyId))
    throw new UsageError(`${JSON.stringify(keyId)} is not a key id (key_ and 16 hex digits; see keys list)`);
  return withDb(async (pool) => {
    const out = await revokeApiKey(pool, keyId);
    switch (out.kind) {
      case 'not_found':
        process.stderr.write(`no key ${keyId}\n`);
        return 1;
      case 'already_revoked':
        process.stdout.write(
          `${keyId} (${out.name}) was already revoked at ${out.revokedAt.toISOString()}\n`,
        );
        return 0;
      case 'revoked':
        process.stdout.write(
          `revoked ${keyId} (${out.name}) at ${out.revokedAt.toISOString()}; every gateway refuses it within 5 s\n`,
        );
        return 0;
    }
  });
}
