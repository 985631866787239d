import { metrics, type BatchObservableResult } from '@opentelemetry/api';
import pg from 'pg';
import { AppError, isRetryable, toError } from './errors.js';

export type { PoolClient } from 'pg';

/** A parameterised statement: `$n` placeholders only. */
export interface Sql {
  /**
   * Set on statements run over and over with the same text (a window's, a win's): each connection then
   * parses and plans it once and only binds and runs it after (a named prepared statement). A
   * name stands for one text, always. Behind a connection pooler in transaction mode this needs
   * one that keeps prepared statements apart per server connection (PgBouncer 1.21 and later,
   * `max_prepared_statements` above 0).
   */
  readonly name?: string;
  readonly text: string;
  readonly values?: unknown[];
}

/**
 * SQLSTATEs worth retrying with backoff: serialization failure, deadlock, server starting or
 * shutting down, too many connections, and connection loss (class 08).
 */
const RETRYABLE_SQLSTATES = new Set([
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const RETRYABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

export function isRetryableDbError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (RETRYABLE_SQLSTATES.has(code) || RETRYABLE_NODE_CODES.has(code)))
    return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    e.message,
  );
}

/**
 * The database edge: a pg or socket error that trying again can cure (the table above) becomes
 * `AppError('DB_UNAVAILABLE', retryable)`; any other error is returned as it is, so a caller still
 * reads its SQLSTATE (the aggregator tells poison, classes 22 and 23, from it).
 */
export function fromDbError(e: unknown): unknown {
  if (e instanceof AppError || !isRetryableDbError(e)) return e;
  return new AppError('DB_UNAVAILABLE', toError(e).message, { retryable: true, cause: e });
}

// int8 comes back as a string by default: jackpot amounts are exact, so we read them as BigInt
// where it matters (through `::text` in SQL) and never let pg turn them into lossy numbers.
//
// JIT is off for our sessions (`options`, a startup parameter; a `?options=` in the URL replaces it).
// Every statement a service runs is short, but once a table holds a few million rows the planner's
// estimates pass jit_above_cost and Postgres compiled the window's duplicate check anew on every
// window: measured with 1,500,000 ids claimed, 700-1,300 ms of CPU a claim with JIT, 26 ms without.
//
// An idle client whose server went away (a Postgres restart, `pg_terminate_backend`) makes the
// pool emit 'error'; with no listener that event ends the process. The pool has already dropped
// the client, and the next checkout connects anew, so the listener only has to tell someone.
export function createPool(
  connectionString: string,
  opts: { max?: number; applicationName?: string; onIdleError?: (e: Error) => void } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    options: '-c jit=off',
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'jackpot',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
  });
  pool.on('error', (e) => opts.onIdleError?.(e));
  meterPool(pool, opts.applicationName ?? 'jackpot', opts.max ?? 10);
  return pool;
}

/**
 * Seconds to get a client from a pool: an idle one takes microseconds, a new connection a few
 * milliseconds (tens with TLS), a full pool waits for a release, up to the 5 s connection timeout.
 */
const POOL_WAIT_BUCKETS_S = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: () => void) => void;

/**
 * A pool's use, on the process's global meter (a no-op until startTelemetry has run, so command
 * line tools pay nothing): `db.client.connections.usage` by `state` (idle, used),
 * `….max`, `….pending_requests` (callers waiting for a client) and `….wait_time` (seconds from
 * `connect()`, which `pool.query` calls too, to a client or an error), each with `pool`, the
 * pool's application name. The gauges are read at scrape time; the histogram costs one clock read
 * per checkout.
 */
function meterPool(pool: pg.Pool, name: string, max: number): void {
  const meter = metrics.getMeter('jackpot.db');
  const attributes = { pool: name };
  const idle = { pool: name, state: 'idle' };
  const used = { pool: name, state: 'used' };
  const usage = meter.createObservableUpDownCounter('db.client.connections.usage', {
    unit: '{connection}',
    description: 'Connections of the pool, by state (idle, used)',
  });
  const maxConnections = meter.createObservableUpDownCounter('db.client.connections.max', {
    unit: '{connection}',
    description: 'Connections the pool may open',
  });
  const pending = meter.createObservableUpDownCounter('db.client.connections.pending_requests', {
    unit: '{request}',
    description: 'Callers waiting for a connection of the pool',
  });
  const waitTime = meter.createHistogram('db.client.connections.wait_time', {
    unit: 's',
    description: 'Time to get a connection from the pool (or to fail to)',
    advice: { explicitBucketBoundaries: POOL_WAIT_BUCKETS_S },
  });
  const observe = (r: BatchObservableResult): void => {
    r.observe(usage, pool.idleCount, idle);
    r.observe(usage, pool.totalCount - pool.idleCount, used);
    r.observe(maxConnections, max, attributes);
    r.observe(pending, pool.waitingCount, attributes);
  };
  const observables = [usage, maxConnections, pending];
  meter.addBatchObservableCallback(observe, observables);

  const connect = pool.connect.bind(pool) as (cb: ConnectCallback) => void;
  function timedConnect(cb?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const started = performance.now();
    const waited = (): void => waitTime.record((performance.now() - started) / 1000, attributes);
    if (cb !== undefined) {
      connect((err, client, done) => {
        waited();
        cb(err, client, done);
      });
      return undefined;
    }
    return new Promise((resolve, reject) =>
      connect((err, client) => {
        waited();
        if (client === undefined) reject(err ?? new Error('no client'));
        else resolve(client);
      }),
    );
  }
  pool.connect = timedConnect as typeof pool.connect;
  const end = pool.end.bind(pool) as (cb?: () => void) => Promise<void> | undefined;
  pool.end = ((cb?: () => void) => {
    meter.removeBatchObservableCallback(observe, observables);
    return end(cb);
  }) as typeof pool.end;
}

/**
 * What code that reaches the database needs of it: check out a client, or run one query. A
 * `pg.Pool` is one; the aggregator, positions, retention and the outbox relays take this, not the pool.
 */
export type Db = Pick<pg.Pool, 'connect' | 'query'>;

export async function withClient<T>(pool: Db, cb: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // The pool listens for errors only on idle clients. A checked-out client whose connection dies
  // (pg_terminate_backend, a Postgres restart) emits 'error' as well as failing its queries, and
  // with no listener that event ends the process: every aggregator replica died that way in the
  // chaos suite. The failed query is what the caller sees (and retries); the event only marks
  // the client as not to be reused.
  const onError = (e: Error): void => {
    broken = e;
  };
  client.on('error', onError);
  try {
    return await cb(client);
  } catch (e) {
    broken ??= isRetryableDbError(e) ? toError(e) : undefined;
    throw e;
  } finally {
    client.removeListener('error', onError);
    // A client whose connection failed must not go back into the pool.
    client.release(broken);
  }
}

/** BEGIN … COMMIT around `cb`, ROLLBACK on any error. */
export async function withTransaction<T>(pool: Db, cb: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await cb(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` again after a retryable error (`isRetryable` once the database edge has classified
 * it; `fn` does database work only), with exponential backoff and jitter
 * (100 ms doubling to 5 s), 8 attempts unless `attempts` says otherwise. Deadlocks and serialization failures are expected under contention
 * between aggregator replicas and wins; they are rare and the retry is the whole fix.
 */
export async function retryDb<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; onRetry?: (e: Error, attempt: number, delayMs: number) => void } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const err = fromDbError(e);
      if (!isRetryable(err) || attempt >= attempts) {
        if (isRetryable(err))
          throw new AppError('DB_UNAVAILABLE', `database still failing after ${attempt} attempts`, {
            cause: e,
            retryable: true,
          });
        throw e;
      }
      const delay = Math.min(5000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      opts.onRetry?.(toError(e), attempt, delay);
      await sleep(delay);
    }
  }
}
