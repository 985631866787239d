/**
 * The ledger export's memory and speed on a million-row range:
 *
 *   npm run bench:export
 *
 * Creates a throwaway database (migrated), writes BENCH_EXPORT_ROWS ledger rows (default
 * 1,000,000: a quarter as many wagers of four pools each, one ledger row a wager since migration
 * 0009, read back through the jackpot.contributions view one row a wager and pool) within one
 * day, then runs `export` over that day as an operator does, in every combination of
 * - the command: compiled (`node --max-semi-space-size=1 dist/services/cli/src/main.js`, after
 *   `npm run build`) and through tsx (`node --max-semi-space-size=1 --import tsx
 *   services/cli/src/main.ts`, what `npm run jackpot` runs), and compiled without the flag, V8's
 *   default young generation, for comparison (ndjson and csv to a pipe). The flag caps V8's
 *   semi-spaces at 1 MB: COPY's stream allocates a Buffer per row and per chunk, and with the
 *   default (up to 16 MB a semi-space) tens of MB of dead buffers wait for a scavenge;
 * - the format: csv and ndjson;
 * - where stdout goes: a pipe read by this process (`| gzip`, `| head`) and a file (`> out.csv`).
 * For each: peak RSS of the exporting process (VmHWM from /proc/<pid>/status, read every 10 ms
 * and at exit), rows/s and MB/s, and the row count checked against the database. The same
 * process's peak running `--help` is the floor (code loaded, nothing exported). Results go to
 * bench/results/export.json. The database is dropped at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { compiledPath, ensureBuilt } from '../infra/build.js';
import { migrate } from '../infra/migrate.js';
import { DEFAULT_DATABASE_URL, int } from '../shared/src/config.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results', 'export.json');
const ROWS = int(process.env, 'BENCH_EXPORT_ROWS', 1_000_000, 4, 100_000_000);
const POOLS = 4;
const DAY = new Date().toISOString().slice(0, 10);
const FROM = `${DAY}T00:00:00Z`;
const TO = new Date(Date.parse(FROM) + 86_400_000).toISOString().replace('.000', '');

function serverUrl(database: string): string {
  const url = new URL(process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl('postgres') });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Peak RSS (VmHWM) of a live process in MB, or null once it is gone. */
function peakMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** The CLI's Node flags, as package.json's `jackpot` script and docs/operations.md give them. */
const CLI_NODE_FLAGS = ['--max-semi-space-size=1'];
const RUNNERS = {
  compiled: [...CLI_NODE_FLAGS, compiledPath('services/cli/src/main.ts')],
  tsx: [...CLI_NODE_FLAGS, '--import', 'tsx', 'services/cli/src/main.ts'],
  'compiled-default-gc': [compiledPath('services/cli/src/main.ts')],
} as const;

interface Run {
  readonly runner: keyof typeof RUNNERS;
  readonly format: 'csv' | 'ndjson' | 'help';
  readonly sink: 'pipe' | 'file' | 'none';
  readonly peakRssMb: number;
  readonly seconds: number;
  readonly lines: number;
  readonly mb: number;
}

async function run(
  url: string,
  runner: Run['runner'],
  format: Run['format'],
  sink: Run['sink'],
): Promise<Run> {
  const entry = RUNNERS[runner];
  const args = format === 'help' ? ['--help'] : ['export', '--from', FROM, '--to', TO, '--format', format];
  const out = join(tmpdir(), `export-bench-${randomBytes(4).toString('hex')}`);
  const file = sink === 'file' ? createWriteStream(out) : null;
  if (file !== null) await new Promise((r) => file.once('open', r));
  const started = performance.now();
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', file ?? 'pipe', 'inherit'],
  });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, peakMb(child.pid ?? 0) ?? 0)), 10);
  let bytes = 0;
  let lines = 0;
  child.stdout?.on('data', (b: Buffer) => {
    bytes += b.length;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
  });
  // The last reading before the process is reaped: VmHWM is final once it stops writing.
  child.stdout?.once('end', () => (peak = Math.max(peak, peakMb(child.pid ?? 0) ?? 0)));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${runner} ${format} ${sink}: exit ${code}`);
  if (file !== null) {
    file.close();
    bytes = statSync(out).size;
    const text = readFileSync(out);
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) lines++;
    rmSync(out);
  }
  return { runner, format, sink, peakRssMb: Math.round(peak * 10) / 10, seconds, lines, mb: bytes / 1e6 };
}

async function main(): Promise<void> {
  await ensureBuilt();
  const name = `jackpot_bench_export_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const url = serverUrl(name);
  try {
    await migrate(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const wagers = Math.ceil(ROWS / POOLS);
    const t0 = performance.now();
    // One day of wagers, spread over the day, each with its share of four pools (ids and amounts
    // only have to look real: the export reads, it does not check).
    await c.query({
      text: `INSERT INTO jackpot.ledger (event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro,
                                         pool_ids, cycles, contribution_micro, overflow_micro, reserve_micro)
             SELECT gen_random_uuid(), $1::timestamptz + (i * (86399.0 / $2)) * interval '1 second', 'game-' || (i % 20),
                    'player-' || (i % 5000), 'EUR', 100 + i % 9900, NULL,
                    ARRAY['bench:mini', 'bench:minor', 'bench:major', 'bench:grand'], ARRAY[1, 1, 1, 1],
                    ARRAY[(100 + i % 9900) * 10000, (100 + i % 9900) * 5000, (100 + i % 9900) * 2500, (100 + i % 9900) * 1000]::bigint[],
                    ARRAY[0, 0, 0, 0]::bigint[], ARRAY[0, 0, 0, (100 + i % 9900) * 500]::bigint[]
             FROM generate_series(0, $2 - 1) AS i`,
      values: [FROM, wagers],
    });
    await c.query('VACUUM ANALYZE jackpot.ledger');
    const rows = Number(
      (
        await c.query<{ n: string }>({
          text: 'SELECT count(*)::text AS n FROM jackpot.contributions WHERE occurred_at >= $1 AND occurred_at < $2',
          values: [FROM, TO],
        })
      ).rows[0]?.n,
    );
    await c.end();
    console.log(
      `${rows.toLocaleString('en')} ledger rows (${wagers.toLocaleString('en')} wagers) written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const runs: Run[] = [];
    for (const runner of ['compiled', 'tsx', 'compiled-default-gc'] as const) {
      const floor = await run(url, runner, 'help', 'none');
      runs.push(floor);
      console.log(
        `${runner.padEnd(19)} --help                 peak RSS ${floor.peakRssMb.toFixed(1)} MB (the floor)`,
      );
      for (const format of ['csv', 'ndjson'] as const) {
        for (const sink of runner === 'compiled-default-gc'
          ? (['pipe'] as const)
          : (['pipe', 'file'] as const)) {
          const r = await run(url, runner, format, sink);
          const dataLines = r.lines - (format === 'csv' ? 1 : 0);
          if (dataLines !== rows)
            throw new Error(`${runner} ${format} ${sink}: ${dataLines} rows, expected ${rows}`);
          runs.push(r);
          console.log(
            `${runner.padEnd(19)} ${format.padEnd(6)} > ${sink.padEnd(4)}  peak RSS ${r.peakRssMb.toFixed(1).padStart(6)} MB  ${Math.round(
              dataLines / r.seconds,
            )
              .toLocaleString('en')
              .padStart(
                9,
              )} rows/s  ${(r.mb / r.seconds).toFixed(1)} MB/s  ${r.mb.toFixed(0)} MB in ${r.seconds.toFixed(1)} s`,
          );
        }
      }
    }
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          rows,
          node: process.version,
          runs: runs.map((r) => ({
            ...r,
            rowsPerS:
              r.format === 'help' ? null : Math.round((r.lines - (r.format === 'csv' ? 1 : 0)) / r.seconds),
            seconds: Math.round(r.seconds * 100) / 100,
            mb: Math.round(r.mb * 10) / 10,
          })),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`results: ${RESULTS}`);
  } finally {
    await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

await main();
