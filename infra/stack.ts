/**
 * The whole stack on one machine, no Docker: `npm run stack:up | stack:down | stack:status`.
 *
 * up: Kafka (reused when one answers), Postgres (a throwaway cluster when none answers on a
 * loopback DATABASE_URL), topics, migrations, then every service as a detached process with its
 * own pid file (`.stack/pids/`) and log (`.stack/logs/`), returning when each answers
 * `GET /readyz`. Safe to run again: only what is not running is started.
 * down: the services (SIGTERM, SIGKILL after 35 s), then Kafka and Postgres if we started them.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { commonConfig, DEFAULT_DATABASE_URL, int, str } from '../shared/src/config.js';
import { createPool } from '../shared/src/db.js';
import { createKafka, TOPICS } from '../shared/src/kafka.js';
import { checkPositions, describeProblems, rebasePositions } from '../shared/src/positions.js';
import { toError } from '../shared/src/errors.js';
import { kafkaStatus, startKafka, stopKafka } from './kafka.js';
import { REPO_ROOT } from './paths.js';
import {
  LOGS_DIR,
  PIDS_DIR,
  answersReady,
  isLoopback,
  isOurProcess,
  isProcessAlive,
  readPidFile,
  removeFile,
  sleep,
  tailFile,
  tcpOpen,
  terminate,
  type Log,
} from './processes.js';
import { ensureBuilt, SERVICE_ENV, serviceArgs } from './build.js';
import { migrate } from './migrate.js';
import { ensurePostgres, startedClusters, stopPostgres } from './postgres.js';
import { ensureTopics } from './topics.js';
import { runIfMain } from '../shared/src/run-main.js';

/** 60 s: a compiled service is ready in about a second once Kafka and Postgres answer; the rest is slack for a loaded machine. */
const READY_TIMEOUT_MS = 60_000;
/** 35 s: services promise to exit within 30 s of SIGTERM (the contract); 5 s of slack before SIGKILL. */
const STOP_TIMEOUT_MS = 35_000;

const defaultLog: Log = (line) => process.stdout.write(`${line}\n`);

export interface ServiceSpec {
  /** Also the name of its pid file and log file. */
  readonly name: string;
  /** Entry point's source, relative to the repository root; what runs is its build, `compiledPath(main)`. */
  readonly main: string;
  /** The environment variable that carries its HTTP port. */
  readonly portEnv: string;
  readonly port: number;
}

/**
 * The services of the stack, in start order: consumers first, so that by the time the
 * gateway accepts wagers, something is there to apply them. Stopped in reverse order.
 */
function serviceTable(env: NodeJS.ProcessEnv = process.env): ServiceSpec[] {
  const replicas = int(env, 'AGGREGATOR_REPLICAS', 2, 1, 64);
  const aggregatorPort = int(env, 'AGGREGATOR_PORT', 8090, 1, 65535 - replicas);
  return [
    ...Array.from({ length: replicas }, (_, i) => ({
      name: `aggregator-${i + 1}`,
      main: 'services/aggregator/src/main.ts',
      portEnv: 'AGGREGATOR_PORT',
      port: aggregatorPort + i,
    })),
    {
      name: 'projector',
      main: 'services/projector/src/main.ts',
      portEnv: 'PROJECTOR_PORT',
      port: int(env, 'PROJECTOR_PORT', 8081, 1, 65535),
    },
    {
      name: 'ingest',
      main: 'services/ingest/src/main.ts',
      portEnv: 'INGEST_PORT',
      port: int(env, 'INGEST_PORT', 8080, 1, 65535),
    },
  ];
}

const pidFileOf = (name: string): string => join(PIDS_DIR, `${name}.pid`);

/**
 * Whether `pid` runs the entry point `main` (a source path, or a prefix such as `services/`):
 * compiled (`dist/…/main.js`) or, started before the services ran compiled, through tsx (`…/main.ts`).
 */
const runsEntry = (pid: number, main: string): boolean => isOurProcess(pid, main.replace(/\.ts$/, '.'));

function recordedPort(name: string): number | undefined {
  try {
    const m = /^port=(\d+)$/m.exec(readFileSync(pidFileOf(name), 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}
const logFileOf = (name: string): string => join(LOGS_DIR, `${name}.log`);

async function waitReady(spec: ServiceSpec, pid: number, timeoutMs: number, log: Log): Promise<void> {
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    if (await answersReady(spec.port)) return;
    if (!isProcessAlive(pid)) {
      removeFile(pidFileOf(spec.name));
      throw new Error(
        `${spec.name}: pid ${pid} exited before it was ready. Last lines of ${logFileOf(spec.name)}:\n${tailFile(logFileOf(spec.name), 30)}`,
      );
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `${spec.name}: GET http://127.0.0.1:${spec.port}/readyz not 200 after ${timeoutMs / 1000} s (pid ${pid} left running; npm run stack:down stops it). ` +
          `Last lines of ${logFileOf(spec.name)}:\n${tailFile(logFileOf(spec.name), 30)}`,
      );
    }
    if (Date.now() - lastProgress >= 5000) {
      lastProgress = Date.now();
      log(`${spec.name}: waiting for /readyz (${Math.round((Date.now() - started) / 1000)} s)`);
    }
    await sleep(300);
  }
}

/**
 * Starts one service as a detached `node dist/…/main.js` (building first: `ensureBuilt`) unless its
 * pid file names a live copy, and resolves when it answers `GET /readyz` with 200.
 */
export async function startService(
  spec: ServiceSpec,
  opts: { log?: Log; env?: Readonly<Record<string, string>>; readyTimeoutMs?: number } = {},
): Promise<{ started: boolean; pid: number }> {
  const log = opts.log ?? defaultLog;
  const timeout = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const main = join(REPO_ROOT, spec.main);
  if (!existsSync(main))
    throw new Error(`${spec.name}: ${spec.main} does not exist; that service has not been written yet`);
  const pidFile = pidFileOf(spec.name);
  const existing = readPidFile(pidFile);
  if (existing !== undefined) {
    if (runsEntry(existing, spec.main)) {
      const port = recordedPort(spec.name);
      if (port !== undefined && port !== spec.port)
        throw new Error(
          `${spec.name}: already running (pid ${existing}) on port ${port}, but ${spec.portEnv} now says ${spec.port}; run npm run stack:down first`,
        );
      await waitReady(spec, existing, timeout, log);
      log(`${spec.name}: already running (pid ${existing}, port ${spec.port})`);
      return { started: false, pid: existing };
    }
    log(`${spec.name}: pid file names pid ${existing}, which is gone; starting it again`);
    removeFile(pidFile);
  }
  if (await tcpOpen('127.0.0.1', spec.port))
    throw new Error(
      `${spec.name}: port ${spec.port} is already taken by a process we did not start; stop it or set ${spec.portEnv}`,
    );

  await ensureBuilt();
  mkdirSync(PIDS_DIR, { recursive: true });
  mkdirSync(LOGS_DIR, { recursive: true });
  const out = openSync(logFileOf(spec.name), 'a');
  const child = spawn(process.execPath, serviceArgs(spec.main), {
    cwd: REPO_ROOT,
    env: { ...SERVICE_ENV, ...process.env, ...opts.env, [spec.portEnv]: String(spec.port) },
    // Its own process group: a Ctrl-C in the terminal that ran stack:up does not reach it.
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: node did not start`);
  child.unref();
  // Second line: the port it was given, so a later run with other settings notices.
  writeFileSync(pidFile, `${pid}\nport=${spec.port}\n`);
  log(`${spec.name}: started pid ${pid} on port ${spec.port} (log: ${logFileOf(spec.name)})`);
  await waitReady(spec, pid, timeout, log);
  log(`${spec.name}: ready`);
  return { started: true, pid };
}

/** SIGTERM, then SIGKILL after 35 s. Only a process whose pid file we wrote, and that still runs our entry point. */
export async function stopService(
  name: string,
  opts: { log?: Log; main?: string } = {},
): Promise<{ stopped: boolean }> {
  const log = opts.log ?? defaultLog;
  const pidFile = pidFileOf(name);
  const pid = readPidFile(pidFile);
  if (pid === undefined || !runsEntry(pid, opts.main ?? 'services/')) {
    removeFile(pidFile);
    return { stopped: false };
  }
  log(`${name}: stopping pid ${pid}`);
  const how = await terminate(pid, STOP_TIMEOUT_MS);
  removeFile(pidFile);
  log(`${name}: ${how === 'killed' ? `did not exit within ${STOP_TIMEOUT_MS / 1000} s; killed` : 'stopped'}`);
  return { stopped: true };
}

/** Every service pid file present, including replicas beyond the current AGGREGATOR_REPLICAS. */
function servicePidNames(): string[] {
  if (!existsSync(PIDS_DIR)) return [];
  return readdirSync(PIDS_DIR)
    .filter((f) => f.endsWith('.pid') && !/^kafka(-\d+)?\.pid$/.test(f))
    .map((f) => f.slice(0, -'.pid'.length));
}

const databaseUrl = (): string => str(process.env, 'DATABASE_URL', DEFAULT_DATABASE_URL);

/** What the services and the tests stand on: Kafka, Postgres, topics, migrations. */
async function infraUp(opts: { log?: Log } = {}): Promise<void> {
  const log = opts.log ?? defaultLog;
  await startKafka({ log });
  await ensurePostgres(databaseUrl(), { log });
  await ensureTopics({ log });
  await migrate(databaseUrl(), (line) => log(`migrate: ${line}`));
}

/** The login the services run as under `stack:up`: a member of jackpot_service (migration 0005). */
const STACK_SERVICE_LOGIN = 'jackpot_app';

/**
 * The DATABASE_URL the services get from `stack:up`: DATABASE_URL's server and database with the
 * user `login`, a LOGIN member of jackpot_service created here when missing, so the local stack
 * runs with the privileges production's services have rather than as the superuser. Only on a
 * loopback server and a URL without a password (the local trust setup), and only when that login
 * then gets in and reads the schema; otherwise (password authentication, no CREATEROLE, a
 * `jackpot_app` that is not a member) the services keep DATABASE_URL as it is, and the log says so.
 * Production creates its logins itself (README, "Database roles").
 */
export async function serviceDatabaseUrl(
  databaseUrl: string,
  log: Log,
  login = STACK_SERVICE_LOGIN,
): Promise<string> {
  const url = new URL(databaseUrl);
  if (url.password !== '' || !isLoopback(url.hostname.replace(/^\[|\]$/g, ''))) return databaseUrl;
  url.username = login;
  try {
    const owner = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
    await owner.connect();
    try {
      const exists = await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login]);
      if (exists.rowCount === 0) {
        await owner
          .query(`CREATE ROLE ${pg.escapeIdentifier(login)} LOGIN IN ROLE jackpot_service`)
          .catch((e: unknown) => {
            // 42710 / 23505: another stack:up created it a moment ago.
            const code = (e as { code?: unknown }).code;
            if (code !== '42710' && code !== '23505') throw e;
          });
        log(`postgres: created login ${login} (member of jackpot_service) for the services`);
      }
    } finally {
      await owner.end();
    }
    const probe = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3000 });
    await probe.connect();
    try {
      await probe.query('SELECT 1 FROM jackpot.pool_totals LIMIT 1');
    } finally {
      await probe.end();
    }
  } catch (e) {
    log(
      `postgres: the services connect as DATABASE_URL's user (${login} cannot be used: ${toError(e).message})`,
    );
    return databaseUrl;
  }
  log(`postgres: the services connect as ${login} (member of jackpot_service)`);
  return url.toString();
}

/**
 * The aggregators refuse positions that do not belong to the wagers topic (another broker, a
 * recreated topic: shared/src/positions.ts) and would wait, not ready, for an operator. Checked
 * here first so that `stack:up` says so at once. `rebase-latest` (the demo) moves the group onto
 * the topic's end instead: a demo on a database that another checkout's broker filled.
 */
async function checkAggregatorPositions(onForeign: 'fail' | 'rebase-latest', log: Log): Promise<void> {
  const common = commonConfig(process.env);
  const groupId = str(process.env, 'AGGREGATOR_GROUP_ID', 'jackpot-aggregator');
  const topic = str(process.env, 'AGGREGATOR_TOPIC', TOPICS.wagers);
  const pool = createPool(common.databaseUrl, { max: 1, applicationName: 'jackpot-stack' });
  const admin = createKafka({
    brokers: common.kafkaBrokers,
    security: common.kafkaSecurity,
    clientId: 'jackpot-stack',
  }).admin();
  try {
    await admin.connect();
    const check = await checkPositions(pool, admin, { groupId, topic });
    if (check.problems.length === 0) return;
    const why = describeProblems(check.problems);
    if (onForeign === 'fail') {
      throw new Error(
        `the stored positions of ${groupId} do not belong to ${topic} on this broker: ${why}. The aggregators would apply nothing. If the topic was replaced on purpose: npm run jackpot -- positions rebase --group ${groupId} --topic ${topic} --to earliest|latest`,
      );
    }
    log(`stack: the stored positions of ${groupId} belong to another broker or topic (${why})`);
    await rebasePositions(pool, admin, { groupId, topic, to: 'latest', actor: 'stack:demo' });
    log(
      `stack: re-based ${groupId} onto ${topic} at its end (as npm run jackpot -- positions rebase --to latest would)`,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
    await pool.end();
  }
}

export async function stackUp(
  opts: { log?: Log; foreignPositions?: 'fail' | 'rebase-latest' } = {},
): Promise<void> {
  const log = opts.log ?? defaultLog;
  // Validate the whole table (env values, entry points) before starting anything.
  const services = serviceTable();
  const missing = services.filter((s) => !existsSync(join(REPO_ROOT, s.main)));
  if (missing.length > 0)
    throw new Error(`cannot start the stack: ${[...new Set(missing.map((s) => s.main))].join(', ')} missing`);

  // The build (~9 s from nothing, ~0.3 s when up to date) while Kafka and Postgres start.
  await Promise.all([ensureBuilt().then(() => log('build: dist/ is up to date')), infraUp({ log })]);
  await checkAggregatorPositions(opts.foreignPositions ?? 'fail', log);
  const env = { DATABASE_URL: await serviceDatabaseUrl(databaseUrl(), log) };
  // The consumers start together, then the gateway, so that something is there to apply what it accepts.
  const gateway = services.filter((s) => s.name === 'ingest');
  await Promise.all(
    services.filter((s) => s.name !== 'ingest').map((spec) => startService(spec, { log, env })),
  );
  for (const spec of gateway) await startService(spec, { log, env });
  log('stack: up');
}

async function stackDown(opts: { log?: Log } = {}): Promise<void> {
  const log = opts.log ?? defaultLog;
  const table = serviceTable();
  const mainOf = (name: string): string =>
    table.find((s) => s.name === name)?.main ??
    (name.startsWith('aggregator-') ? 'services/aggregator/src/main.ts' : 'services/');
  const names = servicePidNames();
  // The gateway first, so nothing new comes in while the consumers finish their work.
  const first = names.filter((n) => n === 'ingest');
  const rest = names.filter((n) => n !== 'ingest');
  for (const group of [first, rest])
    await Promise.all(group.map((n) => stopService(n, { log, main: mainOf(n) })));
  await stopKafka({ log });
  await stopPostgres({ log });
  log('stack: down');
}

function row(name: string, pid: number | undefined, state: string, note = ''): string {
  return `${name.padEnd(14)} ${String(pid ?? '-').padEnd(8)} ${state}${note === '' ? '' : `  (${note})`}`;
}

async function stackStatus(): Promise<string[]> {
  const lines: string[] = [];
  const kafka = await kafkaStatus();
  lines.push(
    row(
      'kafka',
      kafka.pid,
      kafka.state,
      kafka.state === 'external' ? `not started by us, answering on ${kafka.brokers.join(',')}` : '',
    ),
  );

  const clusters = startedClusters();
  if (clusters.length === 0) {
    const url = new URL(databaseUrl());
    const answering = await tcpOpen(url.hostname, url.port === '' ? 5432 : Number(url.port));
    lines.push(
      row(
        'postgres',
        undefined,
        answering ? 'external' : 'stopped',
        answering ? `not started by us, answering on ${url.host}` : '',
      ),
    );
  }
  for (const c of clusters) {
    const alive = c.pid !== undefined && isProcessAlive(c.pid);
    lines.push(row(`postgres-${c.port}`, c.pid, alive ? 'running' : 'dead pid file'));
  }

  const table = serviceTable();
  const names = [
    ...table.map((s) => s.name),
    ...servicePidNames().filter((n) => !table.some((s) => s.name === n)),
  ];
  for (const name of names) {
    const spec = table.find((s) => s.name === name);
    const pid = readPidFile(pidFileOf(name));
    if (pid === undefined) lines.push(row(name, undefined, 'stopped'));
    else if (!runsEntry(pid, spec?.main ?? 'services/')) lines.push(row(name, pid, 'dead pid file'));
    else {
      const port = recordedPort(name) ?? spec?.port;
      const readiness =
        port === undefined ? '' : (await answersReady(port)) ? `ready on ${port}` : `not ready on ${port}`;
      const extra = spec === undefined ? 'beyond AGGREGATOR_REPLICAS' : '';
      lines.push(row(name, pid, 'running', [readiness, extra].filter((x) => x !== '').join(', ')));
    }
  }
  return lines;
}

async function main(): Promise<number> {
  switch (process.argv[2]) {
    case 'up':
      await stackUp();
      for (const line of await stackStatus()) console.log(line);
      return 0;
    case 'infra':
      await infraUp();
      return 0;
    case 'down':
      await stackDown();
      return 0;
    case 'status':
      for (const line of await stackStatus()) console.log(line);
      return 0;
    default:
      console.error('usage: tsx infra/stack.ts up|infra|down|status');
      return 2;
  }
}

runIfMain(import.meta.url, main);
