/**
 * The aggregator's HTTP port: the operational endpoints on a bare `node:http` server
 * (shared/src/http-core.ts createOpsServer), on real sockets. It must answer as the Fastify server
 * of the gateway and the projector answers the same requests, and apply the same limits.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { createOpsServer, type HttpLimits } from '../../shared/src/http-core.js';
import { createHttpServer } from '../../shared/src/http.js';
import { createLogger } from '../../shared/src/logger.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { freePort } from '../../infra/processes.js';

const telemetry = startTelemetry('ops-server-test');
after(() => telemetry.shutdown());
const logger = createLogger('ops-server-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

const LIMITS: HttpLimits = {
  maxConnections: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
};

async function startOps(
  ready: () => Promise<string | null>,
  limits: HttpLimits = LIMITS,
): Promise<{ base: string; close: () => Promise<void> }> {
  const ops = createOpsServer({ telemetry, ready, limits });
  const port = await freePort();
  await ops.listen({ port, host: '127.0.0.1' });
  return { base: `http://127.0.0.1:${port}`, close: () => ops.close() };
}

void test('the operational endpoints answer as the Fastify server answers them', async (t) => {
  let reason: string | null = null;
  let failing = false;
  const ready = (): Promise<string | null> =>
    failing ? Promise.reject(new Error('connection refused')) : Promise.resolve(reason);
  const ops = await startOps(ready);
  t.after(() => ops.close());
  const app = createHttpServer({ logger, telemetry, ready, limits: LIMITS });
  const fastifyPort = await freePort();
  await app.listen({ port: fastifyPort, host: '127.0.0.1' });
  t.after(() => app.close());
  const fastifyBase = `http://127.0.0.1:${fastifyPort}`;

  const requests: [string, string][] = [
    ['GET', '/healthz'],
    ['HEAD', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/readyz?probe=1'],
    ['HEAD', '/readyz'],
    ['GET', '/nothing-here'],
    ['POST', '/healthz'],
    ['DELETE', '/readyz'],
  ];
  const answer = async (base: string, method: string, path: string) => {
    const res = await fetch(base + path, { method });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: text === '' ? null : (JSON.parse(text) as unknown),
    };
  };
  for (const state of ['ready', 'not ready', 'check fails'] as const) {
    reason = state === 'not ready' ? 'not yet a member of the consumer group' : null;
    failing = state === 'check fails';
    for (const [method, path] of requests) {
      const ours = await answer(ops.base, method, path);
      const theirs = await answer(fastifyBase, method, path);
      assert.deepEqual(ours, theirs, `${state}: ${method} ${path}`);
    }
  }
  // And what they say, spelled out once.
  reason = 'not yet a member of the consumer group';
  failing = false;
  assert.deepEqual(await answer(ops.base, 'GET', '/readyz'), {
    status: 503,
    type: 'application/json; charset=utf-8',
    body: { status: 'not ready', reason: 'not yet a member of the consumer group' },
  });
  const metrics = await fetch(`${ops.base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^jackpot_ready\{/m);
});

void test('past the connection cap a request is answered 503 over_capacity with Retry-After, and served again once under it', async (t) => {
  const ops = await startOps(() => Promise.resolve(null), { ...LIMITS, maxConnections: 1 });
  t.after(() => ops.close());
  const port = Number(new URL(ops.base).port);
  const held = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  await new Promise((r) => setTimeout(r, 100));
  const refused = await fetch(`${ops.base}/healthz`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'over_capacity');
  held.destroy();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await fetch(`${ops.base}/healthz`)).status, 200);
});

void test('headers that do not arrive in time get 408 request_timeout and the connection closed', async (t) => {
  const ops = await startOps(() => Promise.resolve(null), {
    ...LIMITS,
    headersTimeoutMs: 300,
    requestTimeoutMs: 300,
  });
  t.after(() => ops.close());
  const port = Number(new URL(ops.base).port);
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /"code":"request_timeout"/);
});

void test('close() ends at once, a keep-alive connection open or not', async () => {
  const ops = await startOps(() => Promise.resolve(null));
  const port = Number(new URL(ops.base).port);
  const s = connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => s.once('data', r));
  const t0 = performance.now();
  await ops.close();
  assert.ok(performance.now() - t0 < 2_000, `close took ${Math.round(performance.now() - t0)} ms`);
  s.destroy();
});
