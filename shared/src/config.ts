import { accessSync, constants, readFileSync } from 'node:fs';
import { AppError, toError } from './errors.js';

/**
 * Settings come from environment variables only, are validated once at start into a frozen
 * object, and a bad value stops the service with the variable's name in the message.
 *
 * JACKPOT_PROFILE (`dev`, `prod`, `high-load`; unset is `prod`) picks defaults for the settings
 * that trade latency, throughput and memory (PROFILES below); a variable set explicitly always
 * wins over its profile's value. Every read below goes through `setting`, so a profile's value is
 * checked by the same range as an explicit one, and an unknown profile stops the service at its
 * first setting.
 */
type Env = Record<string, string | undefined>;

export const PROFILE_NAMES = ['dev', 'prod', 'high-load'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * What each profile sets, as environment values. `prod` is the services' own defaults (each is
 * explained where it is read: services/aggregator/src/config.ts, services/ingest/src/config.ts).
 * - `dev`: a laptop or CI, a few hundred wagers a second: small windows flushed fast (a wager is
 *   on the display in tens of ms), two connections per aggregator, smaller memory budgets.
 * - `high-load`: sustained tens of thousands of wagers a second per replica: bigger windows (fewer
 *   transactions, pool locks and commits per wager; windows of 25,000 take ~1 s in their
 *   transaction, so display latency grows to about a second), a longer wait to fill them, more
 *   connections (the window in flight overlaps the next one's reads), more room in memory, and a
 *   gateway that lingers 10 ms to send produce requests of thousands. Give the containers the
 *   memory: budget + ~150 MB.
 */
export const PROFILES: Readonly<Record<ProfileName, Readonly<Record<string, string>>>> = {
  dev: {
    AGGREGATOR_BATCH_MAX_EVENTS: '1000',
    AGGREGATOR_BATCH_MAX_WAIT_MS: '20',
    AGGREGATOR_DB_POOL_MAX: '2',
    AGGREGATOR_MEMORY_BUDGET_MB: '128',
    INGEST_MEMORY_BUDGET_MB: '128',
    INGEST_PRODUCER_LINGER_MS: '2',
    PROJECTOR_MEMORY_BUDGET_MB: '96',
  },
  prod: {},
  'high-load': {
    AGGREGATOR_BATCH_MAX_EVENTS: '25000',
    AGGREGATOR_BATCH_MAX_WAIT_MS: '100',
    AGGREGATOR_DB_POOL_MAX: '6',
    AGGREGATOR_MEMORY_BUDGET_MB: '512',
    INGEST_MEMORY_BUDGET_MB: '512',
    INGEST_PRODUCER_LINGER_MS: '10',
    PROJECTOR_MEMORY_BUDGET_MB: '192',
  },
};

/** JACKPOT_PROFILE, checked; `prod` when unset. */
export function profileName(env: Env): ProfileName {
  const v = env['JACKPOT_PROFILE'];
  if (v === undefined || v === '') return 'prod';
  if (!(PROFILE_NAMES as readonly string[]).includes(v))
    throw new AppError(
      'CONFIG_INVALID',
      `JACKPOT_PROFILE=${JSON.stringify(v)} is invalid: expected one of ${PROFILE_NAMES.join(', ')}`,
    );
  return v as ProfileName;
}

/**
 * A variable's value: the environment's when set, else the profile's, else none. `source` names
 * where it came from for error messages.
 */
function setting(env: Env, name: string): { value: string; source: string } | undefined {
  const v = env[name];
  if (v !== undefined && v !== '') return { value: v, source: name };
  const profile = profileName(env);
  const p = PROFILES[profile][name];
  return p === undefined ? undefined : { value: p, source: `${name} (from JACKPOT_PROFILE=${profile})` };
}

function fail(name: string, value: string, expected: string): never {
  throw new AppError('CONFIG_INVALID', `${name}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}

export function str(env: Env, name: string, fallback: string): string {
  return setting(env, name)?.value ?? fallback;
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const s = setting(env, name);
  if (s === undefined) return fallback;
  const v = s.value;
  if (!/^-?\d+$/.test(v.trim())) fail(s.source, v, `an integer between ${min} and ${max}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    fail(s.source, v, `an integer between ${min} and ${max}`);
  return n;
}

export function list(env: Env, name: string, fallback: string): string[] {
  const items = str(env, name, fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) fail(name, env[name] ?? '', 'a comma-separated list with at least one item');
  return items;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const v = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(v)) fail(name, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

/** A Kafka topic name (Kafka's own rule: 1 to 249 characters of [A-Za-z0-9._-]). */
export function topicName(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(v)) fail(name, v, '1 to 249 characters of [A-Za-z0-9._-]');
  return v;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = setting(env, name)?.value;
  if (v === undefined) return fallback;
  if (['1', 'true', 'yes'].includes(v.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(v.toLowerCase())) return false;
  return fail(name, v, 'true or false');
}

/** The settings every service shares, with the contract's defaults. */
export interface CommonConfig {
  /** JACKPOT_PROFILE: whose defaults the unset variables took. */
  readonly profile: ProfileName;
  readonly kafkaBrokers: readonly string[];
  /** TLS and SASL towards the brokers; `{}` is plaintext without authentication. */
  readonly kafkaSecurity: KafkaSecurity;
  readonly databaseUrl: string;
  readonly logLevel: string;
}

/**
 * How the Kafka client secures its connections. Both parts are optional and independent: SASL
 * over plaintext (SASL_PLAINTEXT) authenticates without encrypting, TLS alone (SSL) encrypts
 * without authenticating, both (SASL_SSL) is what production wants.
 */
export interface KafkaSecurity {
  /** TLS on; the broker's certificate is always verified, against `ca` (PEM) or Node's default CAs. */
  readonly ssl?: { readonly ca?: string };
  readonly sasl?: KafkaSasl;
}

/** SCRAM only: PLAIN sends the password itself, SCRAM proves knowledge of it. */
export interface KafkaSasl {
  readonly mechanism: 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

const SASL_MECHANISMS = ['scram-sha-256', 'scram-sha-512'] as const;

/**
 * KAFKA_SSL (true|false), KAFKA_SSL_CA_FILE (a PEM bundle, read now), KAFKA_SASL_MECHANISM
 * (SCRAM-SHA-256|SCRAM-SHA-512), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD. A half-made setting
 * (a CA without TLS, a user without a mechanism) stops the service rather than falling back to
 * plaintext. The password never appears in a message.
 */
export function kafkaSecurity(env: Env): KafkaSecurity {
  const ssl = bool(env, 'KAFKA_SSL', false);
  const caFile = str(env, 'KAFKA_SSL_CA_FILE', '');
  if (caFile !== '' && !ssl) fail('KAFKA_SSL_CA_FILE', caFile, 'to be unset unless KAFKA_SSL=true');
  const mechanism = str(env, 'KAFKA_SASL_MECHANISM', '').toLowerCase();
  const username = str(env, 'KAFKA_SASL_USERNAME', '');
  const password = str(env, 'KAFKA_SASL_PASSWORD', '');
  let sasl: KafkaSasl | undefined;
  if (mechanism === '') {
    if (username !== '')
      fail('KAFKA_SASL_USERNAME', username, 'to be unset unless KAFKA_SASL_MECHANISM is set');
    if (password !== '')
      throw new AppError('CONFIG_INVALID', 'KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not');
  } else {
    if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism))
      fail('KAFKA_SASL_MECHANISM', env['KAFKA_SASL_MECHANISM'] ?? '', 'SCRAM-SHA-256 or SCRAM-SHA-512');
    if (username === '')
      fail('KAFKA_SASL_USERNAME', username, `a user name (KAFKA_SASL_MECHANISM=${mechanism})`);
    if (password === '')
      throw new AppError(
        'CONFIG_INVALID',
        `KAFKA_SASL_PASSWORD is empty: expected the password of ${username}`,
      );
    sasl = { mechanism: mechanism as KafkaSasl['mechanism'], username, password };
  }
  return {
    ...(ssl ? { ssl: caFile === '' ? {} : { ca: readPem('KAFKA_SSL_CA_FILE', caFile) } } : {}),
    ...(sasl === undefined ? {} : { sasl }),
  };
}

function readPem(name: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(name, file, `a readable file (${toError(e).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    fail(name, file, 'a PEM file with at least one certificate');
  return text;
}

/**
 * libpq's sslmode values that node-postgres understands. Not `no-verify`: it would accept any
 * certificate, so anyone on the path could read and rewrite the money; a private CA goes in
 * `sslrootcert` instead.
 */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];
/** Parameters naming files that pg reads at connect time: checked now, so a typo stops the start. */
const SSL_FILE_PARAMS = ['sslrootcert', 'sslcert', 'sslkey'];

/**
 * DATABASE_URL, a postgres:// URL. TLS through libpq's own parameters in the URL (`sslmode`,
 * `sslrootcert`, `sslcert`, `sslkey`), which pg reads. Messages name the parameter, never the
 * URL, which may hold a password.
 */
export function databaseUrl(env: Env): string {
  const v = str(env, 'DATABASE_URL', DEFAULT_DATABASE_URL);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new AppError(
      'CONFIG_INVALID',
      'DATABASE_URL is invalid: expected postgres://user@host:port/database',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new AppError(
      'CONFIG_INVALID',
      `DATABASE_URL is invalid: expected the scheme postgres://, got ${url.protocol}//`,
    );
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode))
    fail('DATABASE_URL sslmode', sslmode, `one of ${SSL_MODES.join(', ')} (verify-full recommended)`);
  for (const param of SSL_FILE_PARAMS) {
    const file = url.searchParams.get(param);
    if (file === null) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (e) {
      fail(`DATABASE_URL ${param}`, file, `a readable file (${toError(e).message})`);
    }
  }
  return v;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/jackpot';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

export function commonConfig(env: Env): CommonConfig {
  return {
    profile: profileName(env),
    kafkaBrokers: list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS),
    kafkaSecurity: kafkaSecurity(env),
    databaseUrl: databaseUrl(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
}
