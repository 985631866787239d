/**
 * Cold start and memory at rest of each service, through tsx (`node --import tsx main.ts`) and
 * compiled (`node dist/…/main.js`), against the local broker and a throwaway database.
 *
 *   npx tsx bench/service-start.bench.ts [rounds]
 *
 * Modes: tsx with an empty transform cache (tsx-cold), tsx with a warm one (tsx-warm), compiled.
 * Prints, per service and mode: wall time from spawn to the first `GET /readyz` 200, CPU seconds
 * used by then (/proc/PID/stat), and VmRSS 5 s after ready; then the four services of stack:up
 * started at once. Builds first (infra/build.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ensureBuilt, SERVICE_ENV, serviceArgs } from '../infra/build.js';
import { createDatabaseIfMissing, migrate } from '../infra/migrate.js';
import { REPO_ROOT } from '../infra/paths.js';
import { DEFAULT_DATABASE_URL, str } from '../shared/src/config.js';

const SERVICES = [
  { name: 'ingest', portEnv: 'INGEST_PORT', port: 18080 },
  { name: 'projector', portEnv: 'PROJECTOR_PORT', port: 18081 },
  { name: 'aggregator', portEnv: 'AGGREGATOR_PORT', port: 18090 },
] as const;
/** tsx-cold: an empty tsx cache (it keeps its transforms under os.tmpdir()), as after a reboot or a new checkout. */
type Mode = 'tsx-cold' | 'tsx-warm' | 'compiled';
const CLK_TCK = 100; // Linux USER_HZ
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  // Fields after the command name: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

type Service = { readonly name: string; readonly portEnv: string; readonly port: number };

async function measure(
  svc: Service,
  mode: Mode,
  env: Record<string, string>,
  restMs = 5000,
): Promise<{ readyS: number; cpuS: number; rssMb: number }> {
  const source = `services/${svc.name}/src/main.ts`;
  const args = mode === 'compiled' ? serviceArgs(source) : ['--import', 'tsx', source];
  const tmp = mode === 'tsx-cold' ? mkdtempSync(join(tmpdir(), 'bench-start-')) : undefined;
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      ...(mode === 'compiled' ? SERVICE_ENV : {}),
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      ...(tmp === undefined ? {} : { TMPDIR: tmp }),
      [svc.portEnv]: String(svc.port),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${svc.name} (${mode}) exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${svc.port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() - t0 > 90_000) throw new Error(`${svc.name} (${mode}) not ready in 90 s`);
      await sleep(50);
    }
    const readyS = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(pid);
    await sleep(restMs);
    return { readyS, cpuS, rssMb: rssMb(pid) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  await ensureBuilt();
  const base = new URL(str(process.env, 'DATABASE_URL', DEFAULT_DATABASE_URL));
  base.pathname = `/bench_start_${randomUUID().slice(0, 8)}`;
  const databaseUrl = base.toString();
  await createDatabaseIfMissing(databaseUrl);
  await migrate(databaseUrl);
  const env = { DATABASE_URL: databaseUrl, AGGREGATOR_GROUP_ID: `bench-start-${randomUUID()}` };
  try {
    console.log('service     mode       ready s (median)  CPU s at ready  RSS MB at rest');
    for (const svc of SERVICES) {
      for (const mode of ['tsx-cold', 'tsx-warm', 'compiled'] as const) {
        const runs: Awaited<ReturnType<typeof measure>>[] = [];
        for (let i = 0; i < rounds; i++) runs.push(await measure(svc, mode, env));
        const med = (k: 'readyS' | 'cpuS' | 'rssMb'): number =>
          runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? NaN;
        console.log(
          `${svc.name.padEnd(11)} ${mode.padEnd(10)} ${med('readyS').toFixed(2).padStart(16)}  ${med('cpuS').toFixed(2).padStart(14)}  ${med('rssMb').toFixed(0).padStart(14)}`,
        );
      }
    }
    // As stack:up starts them: two aggregators and the projector at once (then the gateway; here
    // all four together), competing for the 2 cores. Each measured 8 s after the last is ready.
    const together: Service[] = [
      { name: 'aggregator', portEnv: 'AGGREGATOR_PORT', port: 18090 },
      { name: 'aggregator', portEnv: 'AGGREGATOR_PORT', port: 18091 },
      SERVICES[1],
      SERVICES[0],
    ];
    console.log('\nall four at once  mode       last ready s  CPU s (sum)  RSS MB (sum)');
    for (const mode of ['tsx-cold', 'compiled'] as const) {
      const runs = await Promise.all(together.map((svc) => measure(svc, mode, env, 8000)));
      const sum = (k: 'cpuS' | 'rssMb'): number => runs.reduce((a, r) => a + r[k], 0);
      console.log(
        `${''.padEnd(17)} ${mode.padEnd(10)} ${Math.max(...runs.map((r) => r.readyS))
          .toFixed(2)
          .padStart(12)}  ${sum('cpuS').toFixed(2).padStart(11)}  ${sum('rssMb').toFixed(0).padStart(12)}`,
      );
    }
  } finally {
    const admin = new URL(databaseUrl);
    const name = admin.pathname.slice(1);
    admin.pathname = '/postgres';
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await c.end();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
