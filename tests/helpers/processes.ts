/**
 * Services as real child processes for end-to-end tests, started the way the stack and the image
 * start them: `node dist/services/<name>/src/main.js`, built first (infra/build.ts: once per test
 * process, ~0.3 s when up to date, under a lock shared by the test files running in parallel),
 * with the test's database, topics and a free port in its environment. Killed after the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../infra/processes.js';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, SERVICE_ENV, serviceArgs } from '../../infra/build.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited(): Promise<number | string>;
  waitReady(timeoutMs?: number): Promise<void>;
}

export async function startServiceProcess(
  service: 'ingest' | 'aggregator' | 'projector',
  env: Record<string, string>,
  name: string = service,
): Promise<ServiceProcess> {
  const port = await freePort();
  const portEnv = { ingest: 'INGEST_PORT', aggregator: 'AGGREGATOR_PORT', projector: 'PROJECTOR_PORT' }[
    service
  ];
  await ensureBuilt();
  const child = spawn(process.execPath, serviceArgs(`services/${service}/src/main.ts`), {
    cwd: ROOT,
    env: { ...SERVICE_ENV, ...process.env, LOG_LEVEL: 'info', ...env, [portEnv]: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const proc: ServiceProcess = {
    name,
    port,
    child,
    output: () => out,
    exited: () => exit,
    async waitReady(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (child.exitCode !== null)
          throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${out}`);
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${name} not ready within ${timeoutMs} ms:\n${out}`);
    },
  };
  return proc;
}
