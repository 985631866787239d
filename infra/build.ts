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
