import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { createHttpSender, retryAfterMs } from '../../../loadgen/src/http-sender.js';
import type { TrafficEvent } from '../../../loadgen/src/traffic.js';

interface Seen {
  readonly auth: string | undefined;
  readonly eventIds: string[];
}

/** A stand-in gateway: answers from `script` in turn (the last answer repeats) and records each request. */
async function gateway(
  script: ((seen: Seen) => { status: number; headers?: Record<string, string>; body: unknown })[],
) {
  const seen: Seen[] = [];
  let active = 0;
  let maxActive = 0;
  const server = http.createServer((req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { wagers: { eventId: string }[] };
      const s = { auth: req.headers.authorization, eventIds: body.wagers.map((w) => w.eventId) };
      seen.push(s);
      const answer = (script[Math.min(seen.length - 1, script.length - 1)] as (typeof script)[number])(s);
      // A little service time, so that concurrent requests overlap.
      setTimeout(() => {
        active--;
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body));
      }, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, maxActive: () => maxActive };
}

const event = (i: number): TrafficEvent => ({
  kind: 'wager',
  origin: i,
  duplicate: false,
  wager: {
    eventId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    occurredAt: '2026-11-29T12:00:00.000Z',
    gameId: 'g1',
    playerId: 'p-1',
    currency: 'EUR',
    amountMinor: 100,
  },
});

const accepted = (s: Seen) => ({ status: 202, body: { accepted: s.eventIds.length, rejected: [] } });

void test('batches fill to the batch size, with at most `concurrency` requests at once, and carry the key', async () => {
  const gw = await gateway([accepted]);
  const sender = createHttpSender({
    baseUrl: gw.url,
    apiKey: 'k1',
    batchSize: 3,
    concurrency: 2,
    lingerMs: 5,
  });
  const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => sender.send(event(i))));
  await sender.close();
  assert.ok(outcomes.every((o) => o.ok));
  assert.deepEqual(
    gw.seen.map((s) => s.eventIds.length),
    [3, 3, 3, 1],
  );
  assert.ok(gw.seen.every((s) => s.auth === 'Bearer k1'));
  assert.equal(gw.maxActive(), 2);
});

void test('429 waits for Retry-After and 503 backs off; the retry resends the same eventIds; per-item rejections are reported', async () => {
  const gw = await gateway([
    () => ({
      status: 429,
      headers: { 'retry-after': '0' },
      body: { error: { code: 'rate_limited', message: 'slow down' } },
    }),
    () => ({ status: 503, body: { error: { code: 'kafka_unavailable', message: 'Kafka is down' } } }),
    (s) => ({
      status: 202,
      body: {
        accepted: s.eventIds.length - 1,
        rejected: [{ index: 1, code: 'amount_out_of_range', message: 'amountMinor must be …' }],
      },
    }),
  ]);
  const sender = createHttpSender({ baseUrl: gw.url, apiKey: 'k', batchSize: 3, concurrency: 1 });
  const outcomes = await Promise.all([0, 1, 2].map((i) => sender.send(event(i))));
  await sender.close();
  assert.equal(gw.seen.length, 3);
  assert.deepEqual(gw.seen[0]?.eventIds, gw.seen[2]?.eventIds);
  assert.deepEqual(
    outcomes.map((o) => (o.ok ? 'ok' : o.code)),
    ['ok', 'rejected:amount_out_of_range', 'ok'],
  );
  assert.deepEqual(sender.stats(), { retries: 1, throttled: 1 });
});

void test('401 makes the sender fatal: no retry, a message that says what to do', async () => {
  const gw = await gateway([
    () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'unknown key' } } }),
  ]);
  const sender = createHttpSender({
    baseUrl: gw.url,
    apiKey: 'bad',
    batchSize: 10,
    concurrency: 1,
    lingerMs: 1,
  });
  const outcome = await sender.send(event(1));
  await sender.close();
  assert.deepEqual(outcome.ok ? 'ok' : outcome.code, 'http_401');
  assert.equal(gw.seen.length, 1);
  assert.match(sender.fatal()?.message ?? '', /refused the API key.*keys create/);
});

void test('an urgent event goes alone, at once', async () => {
  const gw = await gateway([accepted]);
  const sender = createHttpSender({
    baseUrl: gw.url,
    apiKey: 'k',
    batchSize: 100,
    concurrency: 1,
    lingerMs: 10_000,
  });
  const slow = sender.send(event(1));
  const urgent = await sender.send(event(2), { urgent: true });
  assert.ok(urgent.ok);
  assert.deepEqual(
    gw.seen.map((s) => s.eventIds.length),
    [1],
  );
  await sender.flush();
  assert.ok((await slow).ok);
  await sender.close();
});

void test('an unreachable gateway gives up after the retry window with the network error', async () => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const sender = createHttpSender({
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: 'k',
    batchSize: 1,
    concurrency: 1,
    retryForMs: 300,
  });
  const outcome = await sender.send(event(1));
  await sender.close();
  assert.deepEqual(outcome.ok ? 'ok' : outcome.code, 'ECONNREFUSED');
  assert.ok(sender.stats().retries >= 1);
});

void test('Retry-After: seconds, an HTTP date, or 1 s when unreadable', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  assert.equal(retryAfterMs('2', now), 2000);
  assert.equal(retryAfterMs('0.5', now), 500);
  assert.equal(retryAfterMs('Sun, 29 Nov 2026 12:00:03 GMT', now), 3000);
  assert.equal(retryAfterMs('soon', now), 1000);
  assert.equal(retryAfterMs(undefined, now), 1000);
});
