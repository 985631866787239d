/**
 * How fast the projector answers `GET /v1/pools`, in the same run and on the same machine as its
 * baselines: a bare `node:http` server sending the same bytes (the ceiling), the same route
 * through Fastify's routing (`/v1/pools?through=fastify`: what the raw GET saves), and a naive
 * handler that queries Postgres on every request.
 *
 *   npx tsx bench/projector.bench.ts
 *
 * Needs the broker (`npm run kafka:start`) and Postgres. It creates a throwaway database with
 * BENCH_POOLS pools (default 20) and a throwaway topic, starts the projector in-process, and
 * while a producer publishes BENCH_UPDATES_PER_S pool updates a second (default 20: every change
 * invalidates the cached list bytes, as in production), a second process hammers the endpoint
 * over BENCH_CONNECTIONS keep-alive connections (default 32) for BENCH_DURATION_MS (default 5000)
 * after a 1 s warm-up, BENCH_ROUNDS times (default 5) for each server in turn, after one uncounted
 * round of each. The load client writes raw HTTP/1.1 on sockets (as autocannon does), so
 * it costs the machine far less than the server it measures. Results go to
 * bench/results/projector.json.
 *
 * Why one file: the parent (servers, rounds, report) and the load client it forks are one
 * script, so that a run needs nothing but this file and the services it measures.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS, int, list } from '../shared/src/config.js';
import { createPool } from '../shared/src/db.js';
import { createHttpServer } from '../shared/src/http.js';
import { createKafka } from '../shared/src/kafka.js';
import { createLogger } from '../shared/src/logger.js';
import { startTelemetry } from '../shared/src/telemetry.js';
import { migrate } from '../infra/migrate.js';
import { loadProjectorConfig } from '../services/projector/src/config.js';
import { createProjector } from '../services/projector/src/projector.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results', 'projector.json');
const WARMUP_MS = 1000;
const TARGET_RPS = 20_000;
const TARGET_P99_MS = 5;

/** The round with the median rate (the middle one of an odd count). */
function median(runs: readonly Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (m === undefined) throw new Error('no rounds');
  return m;
}

interface ClientResult {
  readonly requests: number;
  readonly errors: number;
  readonly durationMs: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly bytesPerResponse: number;
}

// ---------------------------------------------------------------------------------------------
// The load client (runs in its own process: `projector.bench.ts --client host port path ...`).

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

function runClient(
  host: string,
  port: number,
  path: string,
  connections: number,
  durationMs: number,
): Promise<ClientResult> {
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`,
  );
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let bytesPerResponse = 0;
  const started = performance.now();
  const measureFrom = started + WARMUP_MS;
  const stopAt = measureFrom + durationMs;

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = connect({ host, port, noDelay: true });
      let buffer: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = (): void => {
        if (performance.now() >= stopAt) {
          socket.end();
          return;
        }
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const headerEnd = buffer.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const head = buffer.subarray(0, headerEnd).toString('latin1');
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
          if (length === undefined) {
            errors++;
            socket.destroy();
            return;
          }
          const total = headerEnd + 4 + Number(length);
          if (buffer.length < total) return;
          const now = performance.now();
          if (sentAt >= measureFrom && now <= stopAt) {
            requests++;
            latencies.push(now - sentAt);
            if (!head.startsWith('HTTP/1.1 200')) errors++;
          }
          bytesPerResponse = total;
          buffer = buffer.subarray(total);
          send();
        }
      });
      socket.on('error', () => {
        errors++;
      });
      socket.on('close', () => resolve());
    });

  return Promise.all(Array.from({ length: connections }, one)).then(() => {
    const sorted = Float64Array.from(latencies).sort();
    return {
      requests,
      errors,
      durationMs,
      rps: Math.round((requests * 1000) / durationMs),
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
      bytesPerResponse,
    };
  });
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** Runs the load client in a second process, so it has its own core and event loop. */
async function loadFromSecondProcess(url: URL, connections: number, durationMs: number): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const client = await new Promise<ClientResult>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '--client',
        url.hostname,
        url.port,
        `${url.pathname}${url.search}`,
        String(connections),
        String(durationMs),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load client exited with ${code}`));
      else resolve(JSON.parse(out) as ClientResult);
    });
  });
  // The server's CPU per answered request (this process: the server, plus the warm-up and the
  // 20/s publisher). Unlike req/s, it hardly moves when other work shares the machine.
  const cpu = process.cpuUsage(cpuBefore);
  const served = client.requests * ((durationMs + WARMUP_MS) / durationMs);
  return { ...client, serverCpuUsPerRequest: round((cpu.user + cpu.system) / Math.max(1, served)) };
}

interface Measured extends ClientResult {
  /** Server CPU microseconds per request: 1e6 / this is what one core could serve. */
  readonly serverCpuUsPerRequest: number;
}

// ---------------------------------------------------------------------------------------------
// The harness.

const TIERS = ['mini', 'minor', 'major', 'grand'];

async function seed(pool: pg.Pool, pools: number): Promise<string[]> {
  const ids: string[] = [];
  for (let j = 0; ids.length < pools; j++) {
    const jackpotId = `bench-${j}`;
    await pool.query('INSERT INTO jackpot.jackpots (jackpot_id, currency) VALUES ($1, $2)', [
      jackpotId,
      'EUR',
    ]);
    for (const tier of TIERS) {
      if (ids.length >= pools) break;
      const poolId = `${jackpotId}:${tier}`;
      const seedMinor = 1000 * 10 ** TIERS.indexOf(tier);
      await pool.query(
        `INSERT INTO jackpot.pools (pool_id, jackpot_id, tier, seed_minor, contribution_ppm) VALUES ($1, $2, $3, $4, 10000)`,
        [poolId, jackpotId, tier, seedMinor],
      );
      await pool.query(
        `INSERT INTO jackpot.pool_totals (pool_id, jackpot_id, tier, currency, amount_micro, seed_micro, contribution_ppm)
         VALUES ($1, $2, $3, 'EUR', $4::numeric * 1000000, $4::numeric * 1000000, 10000)`,
        [poolId, jackpotId, tier, seedMinor],
      );
      ids.push(poolId);
    }
  }
  return ids;
}

/** The baseline: the same endpoint, answered by querying Postgres on every request. */
async function startNaive(
  databaseUrl: string,
  telemetry: ReturnType<typeof startTelemetry>,
): Promise<{ url: URL; close: () => Promise<void> }> {
  const pool = createPool(databaseUrl, { max: 10, applicationName: 'projector-bench-naive' });
  pool.on('error', () => undefined);
  const app = createHttpServer({
    logger: createLogger('naive', 'silent'),
    telemetry,
    ready: () => Promise.resolve(null),
  });
  app.get('/v1/pools', async () => {
    const { rows } = await pool.query<{
      pool_id: string;
      jackpot_id: string;
      tier: string;
      currency: string;
      amount_minor: string;
      cycle: number;
      version: string;
      updated_at: Date;
    }>(
      'SELECT pool_id, jackpot_id, tier, currency, amount_minor, cycle, version, updated_at FROM jackpot.pool_totals ORDER BY pool_id',
    );
    return rows.map((r) => ({
      poolId: r.pool_id,
      jackpotId: r.jackpot_id,
      tier: r.tier,
      currency: r.currency,
      amountMinor: Number(r.amount_minor),
      cycle: r.cycle,
      version: Number(r.version),
      updatedAt: r.updated_at.toISOString(),
    }));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/v1/pools`),
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}

function show(name: string, r: Measured): void {
  console.log(
    `${name.padEnd(28)} ${String(r.rps).padStart(7)} req/s   p50 ${r.p50Ms.toFixed(3)} ms   p99 ${r.p99Ms.toFixed(3)} ms   ` +
      `max ${r.maxMs.toFixed(1)} ms   ${r.requests} requests, ${r.errors} errors, ${r.bytesPerResponse} B/response, ` +
      `server CPU ${r.serverCpuUsPerRequest} µs/request`,
  );
}

async function bench(): Promise<void> {
  const env = process.env;
  const pools = int(env, 'BENCH_POOLS', 20, 1, 10_000);
  const connections = int(env, 'BENCH_CONNECTIONS', 32, 1, 1024);
  const durationMs = int(env, 'BENCH_DURATION_MS', 5000, 500, 600_000);
  const updatesPerS = int(env, 'BENCH_UPDATES_PER_S', 20, 0, 10_000);
  const rounds = int(env, 'BENCH_ROUNDS', 5, 1, 99);
  const loadAtStart = loadavg()[0];
  const brokers = list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);

  const serverUrl = new URL(env['DATABASE_URL'] || DEFAULT_DATABASE_URL);
  const dbName = `jackpot_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const benchUrl = new URL(serverUrl);
  benchUrl.pathname = `/${dbName}`;
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);

  const kafka = createKafka({ brokers, clientId: 'projector-bench' });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const topic = `bench.pool-updates.${randomBytes(4).toString('hex')}`;
  await kafkaAdmin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  const producer = kafka.producer();
  const telemetry = startTelemetry('projector-bench');
  const seedPool = createPool(benchUrl.toString(), { max: 2, applicationName: 'projector-bench-seed' });
  // DROP DATABASE … WITH (FORCE) at the end terminates whatever connection is still closing.
  seedPool.on('error', () => undefined);
  const cleanups: Array<() => Promise<unknown>> = [];

  try {
    await migrate(benchUrl.toString());
    const ids = await seed(seedPool, pools);
    await producer.connect();

    const projector = createProjector(
      {
        ...loadProjectorConfig({}),
        kafkaBrokers: brokers,
        databaseUrl: benchUrl.toString(),
        topic,
        port: 0,
        host: '127.0.0.1',
        // The published updates have versions Postgres never committed: a resync would replace
        // them (and warn about each). 10 minutes: none runs during the benchmark.
        resyncMs: 600_000,
      },
      { logger: createLogger('projector', 'warn'), telemetry },
    );
    cleanups.push(() => projector.stop());
    const { port } = await projector.start();

    // Updates while the load runs: every one drops the cached bytes, as a live aggregator does.
    const versions = new Map(ids.map((id) => [id, 1]));
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      if (updatesPerS === 0) return;
      const everyMs = 1000 / updatesPerS;
      while (publishing) {
        const poolId = ids[published % ids.length] ?? '';
        const version = (versions.get(poolId) ?? 1) + 1;
        versions.set(poolId, version);
        await producer.send({
          topic,
          messages: [
            {
              key: poolId,
              value: JSON.stringify({
                poolId,
                jackpotId: poolId.split(':')[0],
                cycle: 1,
                amountMinor: 1000 + version,
                version,
                updatedAt: new Date().toISOString(),
              }),
            },
          ],
        });
        published++;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();

    // The baseline that shows what is left to gain: a bare node:http server (no Fastify, no limits,
    // no metrics) sending the same bytes, which the same updates invalidate.
    const bare = createServer((_req, res) => {
      const body = projector.store.listJson();
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => bare.close(() => resolve(undefined))));
    const barePort = (bare.address() as AddressInfo).port;

    console.log(
      `projector GET /v1/pools: ${pools} pools, ${connections} connections, ${rounds} rounds of ${durationMs} ms after ${WARMUP_MS} ms warm-up each, ${updatesPerS} updates/s`,
    );
    // Rounds alternate between the servers, so that a burst of other work on the machine falls on
    // all of them rather than on one; the median round of each is reported.
    const targets = {
      projector: new URL(`http://127.0.0.1:${port}/v1/pools`),
      projectorThroughFastify: new URL(`http://127.0.0.1:${port}/v1/pools?through=fastify`),
      bareNodeHttp: new URL(`http://127.0.0.1:${barePort}/v1/pools`),
    };
    const runs: Record<keyof typeof targets, Measured[]> = {
      projector: [],
      projectorThroughFastify: [],
      bareNodeHttp: [],
    };
    // One short round of each first, not counted: the first requests a server sees run through
    // V8's interpreter and build its connection state, which a long-running projector has done.
    for (const name of Object.keys(targets) as Array<keyof typeof targets>)
      await loadFromSecondProcess(targets[name], connections, 1000);
    for (let round = 0; round < rounds; round++) {
      for (const name of Object.keys(targets) as Array<keyof typeof targets>) {
        const r = await loadFromSecondProcess(targets[name], connections, durationMs);
        runs[name].push(r);
        show(`${name} #${round + 1}`, r);
      }
    }
    publishing = false;
    await publisher;

    const naive = await startNaive(benchUrl.toString(), telemetry);
    cleanups.push(() => naive.close());
    const baseline = await loadFromSecondProcess(naive.url, connections, durationMs);

    const projected = median(runs.projector);
    const throughFastify = median(runs.projectorThroughFastify);
    const bareMedian = median(runs.bareNodeHttp);
    console.log('medians:');
    show('projector (raw GET)', projected);
    show('projector through Fastify', throughFastify);
    show('bare node:http, same bytes', bareMedian);
    show('naive (Postgres per request)', baseline);

    const ratio = (a: Measured, b: Measured): number => Math.round((a.rps / Math.max(1, b.rps)) * 100) / 100;
    const met = projected.rps >= TARGET_RPS && projected.p99Ms < TARGET_P99_MS;
    const spread = (xs: Measured[]): string =>
      `${Math.min(...xs.map((x) => x.rps))}-${Math.max(...xs.map((x) => x.rps))}`;
    // Server CPU per request hardly moves with other work on the machine, unlike req/s: the
    // median of each gives what one core of this server could serve.
    const cpuUs = (xs: Measured[]): number =>
      [...xs.map((x) => x.serverCpuUsPerRequest)].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ??
      Number.NaN;
    const cpu = {
      projector: cpuUs(runs.projector),
      projectorThroughFastify: cpuUs(runs.projectorThroughFastify),
      bareNodeHttp: cpuUs(runs.bareNodeHttp),
    };
    console.log(
      `server CPU per request (median of the rounds): projector ${cpu.projector} µs, through Fastify ${cpu.projectorThroughFastify} µs, bare node:http ${cpu.bareNodeHttp} µs`,
    );
    console.log(
      `projector / bare node:http: ${ratio(projected, bareMedian)}   projector / through Fastify: ${ratio(projected, throughFastify)}   ` +
        `projector / naive: ${ratio(projected, baseline)}   rounds' req/s: projector ${spread(runs.projector)}, bare ${spread(runs.bareNodeHttp)}`,
    );
    console.log(
      `target ${TARGET_RPS} req/s with p99 < ${TARGET_P99_MS} ms: ${met ? 'met' : 'NOT met'}   updates published during the run: ${published}`,
    );

    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          benchmark: 'projector GET /v1/pools',
          at: new Date().toISOString(),
          machine: {
            cpus: cpus().length,
            cpu: cpus()[0]?.model ?? 'unknown',
            node: process.version,
            loadAverage1mAtStart: loadAtStart,
            loadAverage1mAtEnd: loadavg()[0],
          },
          settings: {
            pools,
            connections,
            rounds,
            durationMs,
            warmupMs: WARMUP_MS,
            updatesPerS,
            client: 'raw HTTP/1.1 keep-alive sockets, second process',
          },
          medians: {
            projector: projected,
            projectorThroughFastify: throughFastify,
            bareNodeHttp: bareMedian,
            naivePostgresPerRequest: baseline,
          },
          serverCpuUsPerRequestMedian: cpu,
          rounds: runs,
          ratios: {
            projectorToBareNodeHttp: ratio(projected, bareMedian),
            projectorToThroughFastify: ratio(projected, throughFastify),
            projectorToNaive: ratio(projected, baseline),
          },
          target: { rps: TARGET_RPS, p99Ms: TARGET_P99_MS, met },
          updatesPublished: published,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`written to ${RESULTS}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await kafkaAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    await seedPool.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await telemetry.shutdown().catch(() => undefined);
  }
}

const args = process.argv.slice(2);
if (args[0] === '--client') {
  const [, host = '127.0.0.1', port = '0', path = '/', connections = '32', durationMs = '5000'] = args;
  const result = await runClient(host, Number(port), path, Number(connections), Number(durationMs));
  process.stdout.write(JSON.stringify(result));
} else {
  await bench();
}
