/**
 * The services run compiled: `npm run build` (`tsc -b tsconfig.build.json`) emits services/,
 * shared/ and infra/ into dist/ with the source layout, and the stack, the end-to-end tests and
 * the image start `node dist/services/<name>/src/main.js`. tsx is for development tools only.
 *
 * `ensureBuilt` runs that incremental build before the stack or a test starts a service, so what
 * runs is always what the sources say: ~0.3 s when nothing changed (tsc -b compares the sources
 * with dist/.tsbuildinfo and stops there), ~9 s from nothing on 2 cores. A type error fails it,
 * as it fails the image's build. One build at a time across processes (a lock directory): test
 * files run in parallel, and a service could load a file another tsc is half-way through writing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

const BUILD_CONFIG = 'tsconfig.build.json';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const LOCK_DIR = join(REPO_ROOT, '.stack', 'build.lock');
/** 5 min: a build from nothing takes ~9 s; a holder still alive after that is stuck, not slow. */
const LOCK_WAIT_MS = 300_000;

/** `services/ingest/src/main.ts` → `dist/services/ingest/src/main.js`, relative to the repository root. */
export function compiledPath(source: string): string {
  return join('dist', source.replace(/\.ts$/, '.js'));
}

/**
 * How every service is started (serviceArgs, SERVICE_ENV; issue 8; docs/scaling.md, "Memory"). The Dockerfile's CMD and ENV
 * say the same; keep them in step.
 * - `--max-semi-space-size=4`: V8's young generation at up to 4 MB a semi-space instead of 16.
 *   At the sweep's rates (2026-12-01, `npm run bench -- --rates 1000,5000`, AMD EPYC) the
 *   projector's peak RSS at 5,000/s went from 117 to 92 MB and the aggregators' from 128-130 to
 *   102-121 MB, for ~4 % more CPU; the compiled aggregator draining 200,000 wagers
 *   (`bench:aggregator`, own process, two runs each) reached 35,465 and 42,315 events/s with it,
 *   30,168 and 44,892 without (one earlier run on a slower Xeon: 20,302 against 22,500-22,800).
 *   Smaller is not better: with `--max-semi-space-size=1 --heap-growing-percent=30` a window's
 *   wagers, which live through its transaction, are all promoted and the old space is collected
 *   again and again: 13,600 events/s against 22,500-22,800 (17,800 with the 1 MB semi-space
 *   alone, 20,700 with the growing factor alone), and the end-to-end drain 14,800 against 24,800.
 * - `MALLOC_ARENA_MAX=2`, `MALLOC_MMAP_THRESHOLD_=131072` (glibc): buffers over 128 kB (a 4 MB
 *   Kafka fetch, COPY chunks) are mapped and unmapped, not carved from malloc's heap, where the
 *   holes they left kept ~20 MB resident; two arenas instead of eight per core for the threads.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/**
 * One service's V8 flags on top of those every service runs with (serviceArgs).
 * - The aggregator, `--heap-growing-percent=50`: a full collection whenever the old space has grown
 *   half past what the last one kept, instead of V8's default of up to 4x on a machine with this
 *   much memory. A window's wagers live through its transaction, so they are promoted and die in the
 *   old space; with the default factor tens of MB of them piled up between collections, and after
 *   a burst (a drain, a maximum) the grown limit kept the replica large for minutes at a low rate.
 *   Measured 2026-12-01 on AMD EPYC (`npm run bench -- --quick`, alternated runs; README, "Targets"):
 *   the aggregators' peak RSS at 5,000/s right after a maximum went from 192-210 to 112-118 MB, and
 *   at half the maximum (34,500-40,500/s) from 103-138 to 94-103 MB, for 10-20 % more CPU in the
 *   aggregators (their rate is not what limits the pipeline: see README, "Targets").
 *   `--heap-growing-percent=30` and `--max-old-space-size=384` (which caps V8's factor at ~1.35)
 *   measured no lower at half the maximum, and cost more CPU.
 */
const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  'services/aggregator/src/main.ts': ['--heap-growing-percent=50'],
};

/** `node` arguments that run a service's build: the one place a service's node flags go. */
export function serviceArgs(source: string): string[] {
  return ['--max-semi-space-size=4', ...(SERVICE_NODE_FLAGS[source] ?? []), compiledPath(source)];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: unknown }).code === 'EPERM';
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(join(REPO_ROOT, '.stack'), { recursive: true });
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
    }
    // A holder that died (killed mid-build) leaves its lock behind: take it over. A lock without
    // a pid yet is being written right now, unless it is older than a few seconds.
    let holder: number | undefined;
    try {
      holder = Number(readFileSync(join(LOCK_DIR, 'pid'), 'utf8').trim());
    } catch {
      holder = undefined;
    }
    const orphan =
      holder === undefined
        ? Date.now() - (statSync(LOCK_DIR, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 5000
        : !Number.isInteger(holder) || !pidAlive(holder);
    if (orphan) rmSync(LOCK_DIR, { recursive: true, force: true });
    else if (Date.now() > until)
      throw new Error(
        `build: ${LOCK_DIR} held by pid ${holder} for ${LOCK_WAIT_MS / 1000} s; remove it if that process is stuck`,
      );
    else await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** `tsc -b tsconfig.build.json` under the lock; rejects with tsc's output when it fails. */
function build(): Promise<void> {
  if (!existsSync(TSC))
    return Promise.reject(
      new Error(`build: ${TSC} is missing; install the dev dependencies (npm ci) to compile the services`),
    );
  return withLock(
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [TSC, '-b', BUILD_CONFIG], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        const keep = (b: Buffer): void => {
          out = (out + b.toString()).slice(-20_000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.once('error', reject);
        child.once('close', (code) =>
          code === 0
            ? resolve()
            : reject(new Error(`build: tsc -b ${BUILD_CONFIG} failed (exit ${code}):\n${out.trim()}`)),
        );
      }),
  );
}

let built: Promise<void> | undefined;

/** `build()` once per process: the stack and the test helpers call it before each service start. */
export function ensureBuilt(): Promise<void> {
  built ??= build().catch((e: unknown) => {
    built = undefined; // a fixed source may be built on the next call
    throw e;
  });
  return built;
}
