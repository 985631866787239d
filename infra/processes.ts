/**
 * Process helpers for the local stack (`infra/kafka.ts`, `infra/postgres.ts`, `infra/stack.ts`):
 * where its files live, pid files, telling whether a pid is still the process we started,
 * stopping one gracefully, the tail of a log, and whether a port answers.
 */
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { toError } from '../shared/src/errors.js';
import { REPO_ROOT } from './paths.js';

export const STACK_DIR = join(REPO_ROOT, '.stack');
export const PIDS_DIR = join(STACK_DIR, 'pids');
export const LOGS_DIR = join(STACK_DIR, 'logs');

export type Log = (line: string) => void;
export const defaultLog: Log = (line) => process.stdout.write(`${line}\n`);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid on the first line of a pid file (later lines, if any, are for its writer). */
export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive but not ours to signal.
    return (e as { code?: unknown }).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) counts as dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}

/**
 * A live process whose command line contains `needle`: guards against a pid file naming a pid
 * that the system has since given to an unrelated process.
 */
export function isOurProcess(pid: number, needle: string): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
  } catch {
    return true; // no /proc: trust the pid file
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves with how the process ended. */
export async function terminate(pid: number, graceMs: number): Promise<'exited' | 'killed' | 'gone'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return 'exited';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'exited';
  }
  for (let i = 0; i < 50 && isProcessAlive(pid); i++) await sleep(100);
  return 'killed';
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The last `lines` lines of a file (reads at most its last 64 KiB). */
export function tailFile(file: string, lines = 30): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      readSyncAll(fd, buf, size - length);
      return tail(buf.toString('utf8'), lines);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `(cannot read ${file}: ${toError(e).message})`;
  }
}

function readSyncAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) break;
    off += n;
  }
}

// ---------------------------------------------------------------------------------------------
// ports

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when a service on 127.0.0.1:port answers `GET /readyz` with 200 within 2 s. */
export async function answersReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it), for a process about to listen there. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}
