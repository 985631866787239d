/**
 * Makes DATABASE_URL usable: when its server answers, the database is created if missing; when
 * nothing answers on a loopback address, a throwaway cluster is started from the local
 * PostgreSQL binaries (data under `.stack/pg/`), and then the database is created.
 *
 * `initdb` and `postgres` refuse to run as root, and our machines run everything as root, so
 * the cluster belongs to the `postgres` user and its commands run through `runuser`.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, str } from '../shared/src/config.js';
import { toError } from '../shared/src/errors.js';
import { LOGS_DIR, STACK_DIR, isLoopback, removeFile, tail, tailFile, type Log } from './processes.js';
import { runIfMain } from '../shared/src/run-main.js';

const PG_DIR = join(STACK_DIR, 'pg');
/** The OS user that owns a cluster we start (the Debian packages create it). */
const PG_OS_USER = 'postgres';
/** 60 s: initdb plus the first start take 2-5 s here; the rest is margin for a slow CI disk. */
const PG_START_TIMEOUT_S = 60;

const defaultLog: Log = (line) => process.stdout.write(`${line}\n`);

interface Target {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** The same server, database `postgres`: where CREATE DATABASE runs. */
  readonly maintenanceUrl: string;
}

function parse(databaseUrl: string): Target {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error(`DATABASE_URL is invalid: expected postgres://user@host:port/database`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '') throw new Error('DATABASE_URL names no database');
  const maintenance = new URL(url.toString());
  maintenance.pathname = '/postgres';
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: url.port === '' ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username) || userInfo().username,
    database,
    maintenanceUrl: maintenance.toString(),
  };
}

/** Connection errors meaning "no server there" (as opposed to a server that said no). */
function isUnreachable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ENOENT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ETIMEDOUT' ||
    /timeout/i.test(toError(e).message)
  );
}

async function withMaintenanceClient<T>(t: Target, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: t.maintenanceUrl,
    connectionTimeoutMillis: 3000,
    application_name: 'jackpot-infra',
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function reachable(t: Target): Promise<boolean> {
  try {
    await withMaintenanceClient(t, (c) => c.query('SELECT 1'));
    return true;
  } catch (e) {
    if (isUnreachable(e)) return false;
    throw new Error(`postgres at ${t.host}:${t.port} answered but refused us: ${toError(e).message}`, {
      cause: e,
    });
  }
}

async function createDatabase(t: Target, log: Log): Promise<void> {
  await withMaintenanceClient(t, async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [t.database]);
    if ((found.rowCount ?? 0) > 0) {
      log(`postgres: database ${t.database} exists on ${t.host}:${t.port}`);
      return;
    }
    try {
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(t.database)}`);
      log(`postgres: created database ${t.database} on ${t.host}:${t.port}`);
    } catch (e) {
      // 42P04 duplicate_database: another runner created it between our check and now.
      if ((e as { code?: unknown }).code !== '42P04') throw e;
    }
  });
}

/** The newest local PostgreSQL installation's bin directory (Debian layout). */
function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined)
    throw new Error(`postgres: no server is reachable and no local binaries were found under ${root}/*/bin`);
  return join(root, newest, 'bin');
}

function run(cmd: string, args: readonly string[], opts: { detached?: boolean } = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // cwd: the postgres user cannot enter root's home directory, where we may have been started.
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: PG_DIR,
      detached: opts.detached ?? false,
    });
    let out = '';
    const collect = (b: Buffer): void => {
      out = (out + b.toString('utf8')).slice(-32 * 1024);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (e) => reject(new Error(`could not run ${cmd}: ${e.message}`)));
    child.once('close', (code) =>
      code === 0
        ? resolvePromise(out)
        : reject(new Error(`${args.join(' ')} exited with ${String(code)}:\n${tail(out, 20)}`)),
    );
  });
}

/** Runs a PostgreSQL binary as the postgres OS user (directly when we already are that user). */
function asPostgres(
  binDir: string,
  tool: string,
  args: readonly string[],
  opts: { detached?: boolean } = {},
): Promise<string> {
  const bin = join(binDir, tool);
  if (process.getuid?.() !== 0) return run(bin, args, opts);
  return run('runuser', ['-u', PG_OS_USER, '--', bin, ...args], opts);
}

function chownToPostgres(path: string): void {
  if (process.getuid?.() !== 0) return;
  const r = /^postgres:[^:]*:(\d+):(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'));
  if (r?.[1] === undefined || r[2] === undefined)
    throw new Error(
      `postgres: no "${PG_OS_USER}" OS user to own the cluster (initdb refuses to run as root)`,
    );
  chownSync(path, Number(r[1]), Number(r[2]));
}

interface Cluster {
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly marker: string;
}

function clusterFor(port: number): Cluster {
  return {
    port,
    dataDir: join(PG_DIR, `data-${port}`),
    socketDir: join(PG_DIR, `run-${port}`),
    logFile: join(LOGS_DIR, `postgres-${port}.log`),
    // Written when we start a cluster, removed when we stop it: `stopPostgres` touches nothing else.
    marker: join(PG_DIR, `started-${port}.json`),
  };
}

async function startCluster(t: Target, log: Log): Promise<void> {
  const binDir = findBinDir();
  const c = clusterFor(t.port);
  mkdirSync(PG_DIR, { recursive: true });
  mkdirSync(LOGS_DIR, { recursive: true });
  mkdirSync(c.socketDir, { recursive: true });
  chownToPostgres(c.socketDir);
  chownToPostgres(PG_DIR);
  if (!existsSync(c.logFile)) writeFileSync(c.logFile, '');
  chownToPostgres(c.logFile);

  if (!existsSync(join(c.dataDir, 'PG_VERSION'))) {
    log(`postgres: initdb ${c.dataDir} (${binDir})`);
    // Trust auth on loopback only: a throwaway development cluster, like the machine's own.
    await asPostgres(binDir, 'initdb', [
      '-D',
      c.dataDir,
      '-U',
      t.user,
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
    ]);
  }
  const listen = isLoopback(t.host) && t.host !== 'localhost' ? t.host : '127.0.0.1';
  // fsync off: a throwaway cluster for development and tests; losing it on a power cut is fine.
  const serverOpts = `-p ${t.port} -c listen_addresses=${listen} -c unix_socket_directories=${c.socketDir} -c fsync=off -c max_connections=200`;
  log(`postgres: starting a cluster on ${listen}:${t.port} (log: ${c.logFile})`);
  try {
    // detached: a Ctrl-C in the terminal that ran stack:up must not reach the server.
    await asPostgres(
      binDir,
      'pg_ctl',
      ['-D', c.dataDir, '-l', c.logFile, '-o', serverOpts, '-w', '-t', String(PG_START_TIMEOUT_S), 'start'],
      { detached: true },
    );
  } catch (e) {
    throw new Error(
      `postgres: the cluster did not start: ${toError(e).message}\nLast lines of ${c.logFile}:\n${tailFile(c.logFile, 20)}`,
      { cause: e },
    );
  }
  writeFileSync(
    c.marker,
    `${JSON.stringify({ port: t.port, dataDir: c.dataDir, binDir, startedAt: new Date().toISOString() })}\n`,
  );
}

/**
 * Ensures the database of `databaseUrl` exists on a running server, starting a local
 * throwaway cluster first when nothing answers on a loopback address. Resolves with whether
 * this call started a cluster.
 */
export async function ensurePostgres(
  databaseUrl: string,
  opts: { log?: Log } = {},
): Promise<{ started: boolean }> {
  const log = opts.log ?? defaultLog;
  const t = parse(databaseUrl);
  let started = false;
  if (await reachable(t)) {
    log(`postgres: ${t.host}:${t.port} is reachable`);
  } else {
    if (!isLoopback(t.host))
      throw new Error(
        `postgres: nothing answers at ${t.host}:${t.port}, and it is not a loopback address we could start a cluster on`,
      );
    await startCluster(t, log);
    started = true;
  }
  await createDatabase(t, log);
  return { started };
}

export interface StartedCluster {
  readonly port: number;
  readonly dataDir: string;
  readonly binDir: string;
  readonly pid: number | undefined;
}

/** The clusters `ensurePostgres` started and has not stopped, with their postmaster pid when running. */
export function startedClusters(): StartedCluster[] {
  if (!existsSync(PG_DIR)) return [];
  return readdirSync(PG_DIR)
    .filter((f) => /^started-\d+\.json$/.test(f))
    .map((f) => {
      const info = JSON.parse(readFileSync(join(PG_DIR, f), 'utf8')) as {
        port: number;
        dataDir: string;
        binDir: string;
      };
      let pid: number | undefined;
      try {
        const n = Number(readFileSync(join(info.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
        pid = Number.isInteger(n) && n > 0 ? n : undefined;
      } catch {
        pid = undefined;
      }
      return { port: info.port, dataDir: info.dataDir, binDir: info.binDir, pid };
    });
}

/**
 * Stops the clusters we started (only the one on `databaseUrl`'s port when given). The
 * machine's own server, or any server we did not start, is never touched.
 */
export async function stopPostgres(
  opts: { databaseUrl?: string; log?: Log } = {},
): Promise<{ stopped: number }> {
  const log = opts.log ?? defaultLog;
  const onlyPort = opts.databaseUrl === undefined ? undefined : parse(opts.databaseUrl).port;
  let stopped = 0;
  for (const cluster of startedClusters()) {
    if (onlyPort !== undefined && cluster.port !== onlyPort) continue;
    const c = clusterFor(cluster.port);
    if (cluster.pid !== undefined) {
      log(`postgres: stopping the cluster on port ${cluster.port}`);
      // fast: roll back open transactions and stop now; a throwaway cluster needs no smart wait.
      await asPostgres(cluster.binDir, 'pg_ctl', [
        '-D',
        cluster.dataDir,
        '-m',
        'fast',
        '-w',
        '-t',
        '30',
        'stop',
      ]).catch((e: unknown) => {
        if (!/Is server running\?/.test(toError(e).message)) throw e;
      });
      stopped++;
    }
    removeFile(c.marker);
  }
  if (stopped === 0) log('postgres: no cluster of ours is running');
  return { stopped };
}

// By hand: `tsx infra/postgres.ts ensure|stop` (DATABASE_URL). stack:up and .ci/run use the functions.
runIfMain(import.meta.url, async () => {
  const url = str(process.env, 'DATABASE_URL', DEFAULT_DATABASE_URL);
  const cmd = process.argv[2];
  if (cmd === 'ensure') await ensurePostgres(url);
  else if (cmd === 'stop') await stopPostgres({ databaseUrl: url });
  else throw new Error('usage: tsx infra/postgres.ts ensure|stop');
});
