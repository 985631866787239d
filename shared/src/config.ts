import { AppError } from './errors.js';

/**
 * Settings come from environment variables only, are validated once at start into a frozen
 * object, and a bad value stops the service with the variable's name in the message.
 */
type Env = Record<string, string | undefined>;

function fail(name: string, value: string, expected: string): never {
  throw new AppError('CONFIG_INVALID', `${name}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}

export function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  return v;
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^-?\d+$/.test(v.trim())) fail(name, v, `an integer between ${min} and ${max}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(name, v, `an integer between ${min} and ${max}`);
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

export function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
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
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (['1', 'true', 'yes'].includes(v.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(v.toLowerCase())) return false;
  return fail(name, v, 'true or false');
}

/** The settings every service shares, with the contract's defaults. */
export interface CommonConfig {
  readonly kafkaBrokers: readonly string[];
  readonly databaseUrl: string;
  readonly logLevel: string;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/jackpot';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

export function commonConfig(env: Env): CommonConfig {
  return {
    kafkaBrokers: list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS),
    databaseUrl: str(env, 'DATABASE_URL', DEFAULT_DATABASE_URL),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
}
