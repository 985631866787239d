/**
 * The trace context travels from a gateway request to the aggregator window that applied it, on
 * the real broker and database: the gateway and an aggregator run in this process, their spans
 * go to an in-memory exporter, and a wager is sent with a known `traceparent`.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createLogger } from '../../shared/src/logger.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { createAggregator } from '../../services/aggregator/src/aggregator.js';
import { MAX_LINKS_PER_WINDOW } from '../../services/aggregator/src/window-trace.js';
import { createIngestApp } from '../../services/ingest/src/app.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, seedJackpot } from '../helpers/fixtures.js';
import { kafkaForTests, readTopic } from '../helpers/kafka.js';

// Before anything else, so the tracer provider is registered when the gateway and the aggregator
// look for it.
const spans = new tracing.InMemorySpanExporter();
const telemetry = startTelemetry('traces-test', { spanExporter: spans });
const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('traces-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await telemetry.shutdown();
});

await seedJackpot(db.pool, {
  jackpotId: 'tr',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
  games: ['g-tr'],
});
const config = await testAggregatorConfig('traces', 3, 50);
let gatewayUrl = '';
let gameKey = '';

before(async () => {
  gameKey = (await createApiKey(db.pool, { role: 'game', name: 'traces', jackpots: 'all' })).key;
  const producer = createWagerProducer({ kafka, topic: config.topic });
  await producer.connect();
  const generous = { perSecond: 1_000_000, burst: 1_000_000 };
  const ingest = createIngestApp({
    db: db.pool,
    producer,
    logger,
    telemetry,
    rateLimit: generous,
    claimRateLimit: generous,
    auth: loadIngestConfig({}).auth,
  });
  gatewayUrl = await ingest.app.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    await ingest.close();
    await producer.disconnect();
  });
  const aggregator = createAggregator({ kafka, pool: db.pool, config, logger, meter: telemetry.meter });
  await aggregator.start();
  stops.push(() => aggregator.stop());
});

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

function wager(): Record<string, unknown> {
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    gameId: 'g-tr',
    playerId: `p-${hex(4)}`,
    currency: 'EUR',
    amountMinor: 100,
  };
}

async function postWagers(
  wagers: readonly Record<string, unknown>[],
  headers: Record<string, string>,
): Promise<number> {
  const res = await fetch(`${gatewayUrl}/v1/wagers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gameKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ wagers }),
  });
  await res.arrayBuffer();
  return res.status;
}

const finished = (): tracing.ReadableSpan[] => spans.getFinishedSpans();
const windowSpans = (): tracing.ReadableSpan[] =>
  finished().filter((s) => s.name === 'jackpot.aggregator.window');
const linkedTo = (traceId: string): tracing.ReadableSpan | undefined =>
  windowSpans().find((s) => s.links.some((l) => l.context.traceId === traceId));

async function applied(eventIds: readonly unknown[]): Promise<boolean> {
  const { rows } = await db.pool.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM jackpot.applied_events WHERE event_id = ANY($1::uuid[])',
    [eventIds],
  );
  return Number(rows[0]?.n) === eventIds.length;
}

void test('a wager sent with a traceparent is linked from the window that applied it, through the gateway span', async () => {
  const traceId = hex(16);
  const callerSpanId = hex(8);
  const wagers = [wager(), wager(), wager()];
  const status = await postWagers(wagers, {
    traceparent: `00-${traceId}-${callerSpanId}-01`,
    tracestate: 'casino=a1',
  });
  assert.equal(status, 202);

  // The gateway's request span: a server span, child of the caller's.
  assert.ok(
    await eventually(() => Promise.resolve(finished().some((s) => s.spanContext().traceId === traceId))),
  );
  const request = finished().find((s) => s.spanContext().traceId === traceId);
  assert.ok(request);
  assert.equal(request.name, 'POST /v1/wagers');
  assert.equal(request.kind, SpanKind.SERVER);
  assert.equal(request.parentSpanContext?.spanId, callerSpanId);
  assert.equal(request.attributes['http.response.status_code'], 202);

  // What the producer library put in Kafka: the request span's context, and the caller's state.
  const messages = await readTopic(kafka, config.topic, (got) => got.length >= wagers.length, {
    settleMs: 0,
  });
  for (const m of messages) {
    assert.equal(m.headers?.['traceparent']?.toString(), `00-${traceId}-${request.spanContext().spanId}-01`);
    assert.equal(m.headers?.['tracestate']?.toString(), 'casino=a1');
  }

  // The window span: a root of its own trace, linked to the request span.
  assert.ok(await eventually(() => applied(wagers.map((w) => w['eventId']))), 'wagers applied');
  assert.ok(await eventually(() => Promise.resolve(linkedTo(traceId) !== undefined)), 'window span linked');
  const window = linkedTo(traceId);
  assert.ok(window);
  assert.equal(window.kind, SpanKind.CONSUMER);
  assert.equal(window.parentSpanContext, undefined);
  assert.notEqual(window.spanContext().traceId, traceId);
  const links = window.links.filter((l) => l.context.traceId === traceId);
  assert.ok(links.length >= 1 && links.length <= wagers.length);
  for (const l of links) assert.equal(l.context.spanId, request.spanContext().spanId);
  assert.equal(window.attributes['messaging.destination.name'], config.topic);
  assert.ok(Number(window.attributes['jackpot.window.applied']) >= 1);
});

void test('a request from an unsampled trace is not linked; one without a traceparent starts its own trace', async () => {
  const unsampledTrace = hex(16);
  const unsampled = [wager()];
  assert.equal(await postWagers(unsampled, { traceparent: `00-${unsampledTrace}-${hex(8)}-00` }), 202);
  const fresh = [wager()];
  assert.equal(await postWagers(fresh, {}), 202);
  assert.ok(await eventually(() => applied([...unsampled, ...fresh].map((w) => w['eventId']))));

  // The fresh request's span is a root; the window that applied its wager links to it.
  const roots = finished().filter((s) => s.name === 'POST /v1/wagers' && s.parentSpanContext === undefined);
  assert.ok(
    await eventually(() =>
      Promise.resolve(roots.some((r) => linkedTo(r.spanContext().traceId) !== undefined)),
    ),
  );
  // Not sampled by the caller (parent-based sampling): no gateway span, and no link to that trace.
  assert.equal(
    finished().some((s) => s.spanContext().traceId === unsampledTrace),
    false,
  );
  assert.equal(linkedTo(unsampledTrace), undefined);
});

void test(`a window links at most ${MAX_LINKS_PER_WINDOW} of its wagers, sent by the producer library inside a span`, async () => {
  // A game server with its own span around its sends, and a backlog of 300 wagers (about 100 a
  // partition) that an aggregator started afterwards reads in windows of many more than the cap.
  const own = await testAggregatorConfig('traces-cap', 3, 1000);
  const producer = createWagerProducer({ kafka, topic: own.topic });
  await producer.connect();
  const sent = Array.from({ length: 300 }, () => wager());
  const sender = await trace.getTracer('game-server').startActiveSpan('play', async (span) => {
    await Promise.all(sent.map((w) => producer.send(w as unknown as WagerMessage)));
    span.end();
    return span.spanContext();
  });
  await producer.disconnect();
  const aggregator = createAggregator({ kafka, pool: db.pool, config: own, logger, meter: telemetry.meter });
  await aggregator.start();
  stops.push(() => aggregator.stop());
  assert.ok(await eventually(() => applied(sent.map((w) => w['eventId']))));
  const mine = (): tracing.ReadableSpan[] =>
    windowSpans().filter((s) => s.attributes['messaging.destination.name'] === own.topic);
  assert.ok(
    await eventually(() =>
      Promise.resolve(mine().reduce((n, s) => n + Number(s.attributes['jackpot.window.applied']), 0) === 300),
    ),
  );
  for (const w of mine()) {
    assert.ok(w.links.length <= MAX_LINKS_PER_WINDOW, `${w.links.length} links`);
    for (const l of w.links) assert.equal(l.context.spanId, sender.spanId);
  }
  assert.ok(mine().some((w) => w.links.length === MAX_LINKS_PER_WINDOW));
});
