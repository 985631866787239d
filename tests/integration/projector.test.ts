/**
 * The projector on the real broker and a fresh database: pools seeded by SQL, updates published
 * to a topic of each test's own, answers read over HTTP as a display would.
 *
 * Organised as: helpers that start a projector on its own topic, then one test per behaviour in
 * the order initial load, updates, SSE, resync, capacity limits, readiness.
 */
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { after, test, type TestContext } from 'node:test';
import type { Producer } from 'kafkajs';
import { connect, type Socket } from 'node:net';
import { freePort } from '../../infra/processes.js';
import type { HttpLimits } from '../../shared/src/http.js';
import { createLogger } from '../../shared/src/logger.js';
import { poolUpdateRecord } from '../../shared/src/messages/pool-update.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { loadProjectorConfig } from '../../services/projector/src/config.js';
import { createProjector, type Projector } from '../../services/projector/src/projector.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, seedJackpot } from '../helpers/fixtures.js';
import { brokers, kafkaForTests, randomTopic } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('projector-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const telemetry = startTelemetry('projector-test');
after(() => telemetry.shutdown());

await seedJackpot(db.pool, {
  jackpotId: 'demo',
  currency: 'EUR',
  pools: [
    { tier: 'mini', seedMinor: 1_000, contributionPpm: 5_000 },
    { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 10_000 },
  ],
  games: ['g-1'],
});
await seedJackpot(db.pool, {
  jackpotId: 'uk',
  currency: 'GBP',
  pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 10_000 }],
  games: [],
});

interface Pool {
  poolId: string;
  jackpotId: string;
  tier: string;
  currency: string;
  amountMinor: number;
  cycle: number;
  version: number;
  updatedAt: string;
}

let producer: Producer | undefined;
async function publish(
  topic: string,
  updates: ReadonlyArray<Omit<Pool, 'tier' | 'currency'>>,
  partition?: number,
): Promise<void> {
  if (producer === undefined) {
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }
  await producer.send({
    topic,
    acks: -1,
    messages: updates.map((u) => ({
      ...poolUpdateRecord({ ...u, amountMinor: BigInt(u.amountMinor) }),
      ...(partition === undefined ? {} : { partition }),
    })),
  });
}

async function startProjector(
  t: TestContext,
  overrides: { resyncMs?: number; sseHeartbeatMs?: number; sseMaxClients?: number; http?: HttpLimits } = {},
) {
  const topic = await randomTopic('pool-updates', 3, { 'cleanup.policy': 'compact' });
  const config = {
    ...loadProjectorConfig({}),
    kafkaBrokers: brokers,
    databaseUrl: db.url,
    topic,
    port: 0,
    host: '127.0.0.1',
    // Long by default, so that only the topic (or an unknown pool) can explain a change.
    resyncMs: overrides.resyncMs ?? 60_000,
    sseHeartbeatMs: overrides.sseHeartbeatMs ?? 15_000,
    sseMaxClients: overrides.sseMaxClients ?? 1_000,
    ...(overrides.http === undefined ? {} : { http: overrides.http }),
  };
  const projector: Projector = createProjector(config, { logger, telemetry });
  t.after(() => projector.stop());
  const { port } = await projector.start();
  const base = `http://127.0.0.1:${port}`;
  const getJson = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };
  const pool = async (poolId: string): Promise<Pool | undefined> => {
    const { status, body } = await getJson<Pool>(`/v1/pools/${poolId}`);
    return status === 200 ? body : undefined;
  };
  return { projector, topic, base, getJson, pool };
}

/** What Postgres says, mapped here independently of the projector's own SQL. */
async function expectedFromDb(): Promise<Pool[]> {
  const { rows } = await db.pool.query<{
    pool_id: string;
    jackpot_id: string;
    tier: string;
    currency: string;
    amount_minor: string;
    cycle: number;
    version: string;
    updated_at: Date;
  }>(
    'SELECT pool_id, jackpot_id, tier, currency, amount_minor, cycle, version, updated_at FROM jackpot.pool_totals',
  );
  return rows
    .map((r) => ({
      poolId: r.pool_id,
      jackpotId: r.jackpot_id,
      tier: r.tier,
      currency: r.currency,
      amountMinor: Number(r.amount_minor),
      cycle: r.cycle,
      version: Number(r.version),
      updatedAt: r.updated_at.toISOString(),
    }))
    .sort((a, b) => (a.poolId < b.poolId ? -1 : 1));
}

void test('serves every pool of Postgres at start: the list sorted by poolId, one by id, 404 otherwise', async (t) => {
  const p = await startProjector(t);
  const ready = await fetch(`${p.base}/readyz`);
  assert.equal(ready.status, 200);

  const list = await p.getJson<Pool[]>('/v1/pools');
  assert.equal(list.status, 200);
  const expected = await expectedFromDb();
  assert.deepEqual(list.body, expected);
  assert.deepEqual(
    list.body.map((x) => x.poolId),
    ['demo:grand', 'demo:mini', 'uk:main'],
  );
  assert.deepEqual(list.body[0], {
    poolId: 'demo:grand',
    jackpotId: 'demo',
    tier: 'grand',
    currency: 'EUR',
    amountMinor: 1_000_000,
    cycle: 1,
    version: 1,
    updatedAt: expected[0]?.updatedAt,
  });
  for (const key of list.body.map((x) => Object.keys(x).join())) {
    assert.equal(key, 'poolId,jackpotId,tier,currency,amountMinor,cycle,version,updatedAt');
  }

  // The exact path is a raw GET (shared/src/http.ts), anything else goes through Fastify's routing:
  // the same bytes either way.
  const direct = await fetch(`${p.base}/v1/pools`);
  const routed = await fetch(`${p.base}/v1/pools?via=fastify`);
  assert.equal(direct.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(routed.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(await direct.text(), await routed.text());

  assert.deepEqual(await p.pool('demo:grand'), expected[0]);
  assert.deepEqual(await p.pool('demo%3Agrand'), expected[0], 'an encoded ":" is the same pool');
  const missing = await p.getJson<{ error: { code: string; message: string } }>('/v1/pools/demo:nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'pool_not_found');
});

void test('applies updates from the topic, and ignores stale and repeated versions', async (t) => {
  const p = await startProjector(t);
  const at = new Date().toISOString();
  await publish(p.topic, [
    { poolId: 'demo:grand', jackpotId: 'demo', cycle: 1, amountMinor: 1_234_567, version: 5, updatedAt: at },
  ]);
  assert.ok(
    await eventually(async () => (await p.pool('demo:grand'))?.version === 5, 15_000),
    'update applied',
  );
  assert.deepEqual(await p.pool('demo:grand'), {
    poolId: 'demo:grand',
    jackpotId: 'demo',
    tier: 'grand',
    currency: 'EUR',
    amountMinor: 1_234_567,
    cycle: 1,
    version: 5,
    updatedAt: at,
  });

  // All on one partition, so the projector reads them in this order: once the last is applied,
  // the two before it have been seen.
  await publish(
    p.topic,
    [
      { poolId: 'demo:grand', jackpotId: 'demo', cycle: 1, amountMinor: 1, version: 3, updatedAt: at },
      { poolId: 'demo:grand', jackpotId: 'demo', cycle: 1, amountMinor: 2, version: 5, updatedAt: at },
      { poolId: 'demo:mini', jackpotId: 'demo', cycle: 1, amountMinor: 2_000, version: 2, updatedAt: at },
    ],
    0,
  );
  assert.ok(
    await eventually(async () => (await p.pool('demo:mini'))?.version === 2, 15_000),
    'the marker update arrived',
  );
  const grand = await p.pool('demo:grand');
  assert.equal(grand?.version, 5, 'stale version 3 and repeated version 5 ignored');
  assert.equal(grand?.amountMinor, 1_234_567);

  const metrics = await (await fetch(`${p.base}/metrics`)).text();
  assert.match(metrics, /projector_updates_ignored_total\{[^}]*reason="stale"[^}]*\} [1-9]/);
  assert.match(metrics, /projector_updates_applied_total\{[^}]*source="kafka"[^}]*\} [1-9]/);
});

void test('an update for a pool not seen yet brings it in from Postgres at once', async (t) => {
  const p = await startProjector(t);
  // Created after the projector's initial load; the timer resync is a minute away.
  await seedJackpot(db.pool, {
    jackpotId: 'late',
    currency: 'USD',
    pools: [{ tier: 'major', seedMinor: 50_000, contributionPpm: 1_000 }],
    games: [],
  });
  assert.equal(await p.pool('late:major'), undefined);
  // As an aggregator would: commit first, then publish.
  const { rows } = await db.pool.query<{ updated_at: Date }>(
    `UPDATE jackpot.pool_totals SET amount_micro = 50123000000, version = 2, updated_at = now() WHERE pool_id = 'late:major' RETURNING updated_at`,
  );
  const updatedAt = rows[0]?.updated_at.toISOString() ?? assert.fail();
  await publish(p.topic, [
    { poolId: 'late:major', jackpotId: 'late', cycle: 1, amountMinor: 50_123, version: 2, updatedAt },
  ]);
  assert.ok(
    await eventually(async () => (await p.pool('late:major')) !== undefined, 10_000),
    'pool appeared',
  );
  assert.deepEqual(await p.pool('late:major'), {
    poolId: 'late:major',
    jackpotId: 'late',
    tier: 'major',
    currency: 'USD',
    amountMinor: 50_123,
    cycle: 1,
    version: 2,
    updatedAt,
  });
});

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** A minimal EventSource: parses `id:`, `event:`, `data:` fields and blank-line boundaries. */
function openStream(
  url: string,
): Promise<{ events: SseEvent[]; comments: string[]; res: IncomingMessage; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let buffer = '';
      let current: SseEvent = {};
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (Object.keys(current).length > 0) events.push(current);
            current = {};
          } else if (line.startsWith(':')) comments.push(line);
          else {
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id' || field === 'event' || field === 'data') current[field] = value;
          }
        }
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      resolve({ events, comments, res, ended });
    });
    req.on('error', reject);
  });
}

/** The open SSE streams, as /metrics reports them. */
async function sseClients(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^projector_sse_clients\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 'NaN');
}

void test('SSE: the current state on connect, then one pool event per change; stop ends the stream', async (t) => {
  const p = await startProjector(t, { sseHeartbeatMs: 100 });
  const stream = await openStream(`${p.base}/v1/pools/stream`);
  assert.equal(stream.res.statusCode, 200);
  assert.match(String(stream.res.headers['content-type']), /^text\/event-stream/);
  const pools = (await p.getJson<Pool[]>('/v1/pools')).body;
  assert.ok(
    await eventually(() => Promise.resolve(stream.events.length >= pools.length), 5_000),
    'snapshot received',
  );
  assert.deepEqual(
    stream.events.map((e) => [e.event, e.id, JSON.parse(e.data ?? 'null') as unknown]),
    pools.map((x) => ['pool', `${x.poolId}@${x.version}`, x]),
  );

  const current = (await p.pool('uk:main')) ?? assert.fail();
  const next = {
    poolId: 'uk:main',
    jackpotId: 'uk',
    cycle: current.cycle,
    amountMinor: current.amountMinor + 7,
    version: current.version + 1,
    updatedAt: new Date().toISOString(),
  };
  await publish(p.topic, [next]);
  assert.ok(
    await eventually(() => Promise.resolve(stream.events.length > pools.length), 15_000),
    'change event received',
  );
  const event = stream.events[pools.length] ?? assert.fail();
  assert.equal(event.event, 'pool');
  assert.equal(event.id, `uk:main@${next.version}`);
  assert.deepEqual(JSON.parse(event.data ?? 'null'), { ...next, tier: 'main', currency: 'GBP' });

  assert.ok(
    await eventually(() => Promise.resolve(stream.comments.includes(': heartbeat')), 5_000),
    'heartbeat comments',
  );

  // A client that goes away is forgotten.
  const other = await openStream(`${p.base}/v1/pools/stream`);
  assert.ok(await eventually(async () => (await sseClients(p.base)) === 2, 5_000), 'two streams open');
  other.res.destroy();
  await other.ended;
  assert.ok(
    await eventually(async () => (await sseClients(p.base)) === 1, 5_000),
    'closed stream cleaned up',
  );

  await p.projector.stop();
  await stream.ended;
  assert.equal(stream.events.length, pools.length + 1, 'nothing else was sent');
});

void test('the resync picks up changes committed to Postgres without any message', async (t) => {
  const p = await startProjector(t, { resyncMs: 200 });
  const before = (await p.pool('demo:mini')) ?? assert.fail();
  const { rows } = await db.pool.query<{ version: string; amount_minor: string }>(
    `UPDATE jackpot.pool_totals SET amount_micro = amount_micro + 77000000, version = version + 1, updated_at = now()
      WHERE pool_id = 'demo:mini' RETURNING version::text, amount_minor::text`,
  );
  const committed = rows[0] ?? assert.fail();
  assert.ok(
    await eventually(async () => (await p.pool('demo:mini'))?.version === Number(committed.version), 5_000),
    'change seen',
  );
  const after = (await p.pool('demo:mini')) ?? assert.fail();
  assert.equal(after.amountMinor, Number(committed.amount_minor));
  assert.equal(after.amountMinor, before.amountMinor + 77);

  // A new jackpot appears, and a deleted one goes.
  await seedJackpot(db.pool, {
    jackpotId: 'brief',
    currency: 'SEK',
    pools: [{ tier: 'x', seedMinor: 10, contributionPpm: 1 }],
    games: [],
  });
  assert.ok(await eventually(async () => (await p.pool('brief:x')) !== undefined, 5_000), 'new pool seen');
  await db.pool.query(`DELETE FROM jackpot.jackpots WHERE jackpot_id = 'brief'`);
  assert.ok(
    await eventually(async () => (await p.pool('brief:x')) === undefined, 5_000),
    'deleted pool gone',
  );
  assert.deepEqual((await p.getJson<Pool[]>('/v1/pools')).body, await expectedFromDb());
});

void test('a pool update Postgres never committed is replaced by the committed state within one resync; SSE clients are told', async (t) => {
  // Postgres holds 501 for uk:main.
  const { rows } = await db.pool.query<{ version: string; cycle: number }>(
    `UPDATE jackpot.pool_totals SET amount_micro = 501000000, version = version + 1, updated_at = now()
      WHERE pool_id = 'uk:main' RETURNING version::text, cycle`,
  );
  const committed = { version: Number(rows[0]?.version), cycle: rows[0]?.cycle ?? assert.fail() };
  const resyncMs = 500;
  const p = await startProjector(t, { resyncMs });
  assert.equal((await p.pool('uk:main'))?.amountMinor, 501);
  const stream = await openStream(`${p.base}/v1/pools/stream`);
  t.after(() => stream.res.destroy());
  const poolEvents = () =>
    stream.events
      .filter((e) => e.id?.startsWith('uk:main@'))
      .map((e) => JSON.parse(e.data ?? 'null') as Pool);
  assert.ok(await eventually(() => Promise.resolve(poolEvents().length === 1), 5_000), 'snapshot received');

  // A message with a version Postgres never committed: a writer's bug, or forged on the topic.
  const forged = {
    poolId: 'uk:main',
    jackpotId: 'uk',
    cycle: committed.cycle,
    amountMinor: 1,
    version: committed.version + 1_000,
    updatedAt: new Date().toISOString(),
  };
  await publish(p.topic, [forged]);
  assert.ok(
    await eventually(
      () => Promise.resolve(poolEvents().some((e) => e.version === forged.version)),
      15_000,
      5,
    ),
    'the topic alone cannot tell: the forged state was applied',
  );
  const seenAt = Date.now();
  // Corrected by the first resync sent after the message: within one period (plus the query and
  // a loaded machine's slack), never only at restart.
  assert.ok(
    await eventually(async () => (await p.pool('uk:main'))?.amountMinor === 501, 2 * resyncMs + 1_000, 20),
    `served value back to Postgres's within about one resync period (after ${Date.now() - seenAt} ms)`,
  );
  assert.equal((await p.pool('uk:main'))?.version, committed.version);
  assert.ok(
    await eventually(() => Promise.resolve(poolEvents().at(-1)?.version === committed.version), 2_000),
    'SSE clients are told of the correction',
  );
  assert.deepEqual(
    poolEvents().map((e) => [e.version, e.amountMinor]),
    [
      [committed.version, 501],
      [forged.version, 1],
      [committed.version, 501],
    ],
  );

  // It stays corrected, and a true update after it applies as usual.
  await new Promise((r) => setTimeout(r, 2 * resyncMs));
  assert.equal((await p.pool('uk:main'))?.amountMinor, 501);
  const metrics = await (await fetch(`${p.base}/metrics`)).text();
  assert.match(metrics, /^projector_updates_corrected_total(\{[^}]*\})? [1-9]/m);
});

void test('a true update is never moved backwards by the resync', async (t) => {
  const resyncMs = 100;
  const p = await startProjector(t, { resyncMs });
  // One meter for the whole file: count this test's corrections only.
  const correctedBefore = await metricValue(p.base, 'projector_updates_corrected_total');
  const stream = await openStream(`${p.base}/v1/pools/stream`);
  t.after(() => stream.res.destroy());
  const versions = () =>
    stream.events.filter((e) => e.id?.startsWith('demo:grand@')).map((e) => Number(e.id?.split('@')[1]));
  assert.ok(await eventually(() => Promise.resolve(versions().length === 1), 5_000), 'snapshot received');
  // As the aggregator does, many times in a row while the resync reads every 100 ms: commit,
  // then publish. Some messages arrive while a read that missed their commit is out.
  for (let i = 0; i < 30; i++) {
    const { rows } = await db.pool.query<{
      version: string;
      amount_minor: string;
      cycle: number;
      updated_at: Date;
    }>(
      `UPDATE jackpot.pool_totals SET amount_micro = amount_micro + 1000000, version = version + 1, updated_at = now()
        WHERE pool_id = 'demo:grand' RETURNING version::text, amount_minor::text, cycle, updated_at`,
    );
    const r = rows[0] ?? assert.fail();
    await publish(p.topic, [
      {
        poolId: 'demo:grand',
        jackpotId: 'demo',
        cycle: r.cycle,
        amountMinor: Number(r.amount_minor),
        version: Number(r.version),
        updatedAt: r.updated_at.toISOString(),
      },
    ]);
    await new Promise((res) => setTimeout(res, 10 + (i % 4) * 15));
  }
  const last = (await expectedFromDb()).find((x) => x.poolId === 'demo:grand') ?? assert.fail();
  assert.ok(await eventually(async () => (await p.pool('demo:grand'))?.version === last.version, 5_000));
  await new Promise((r) => setTimeout(r, 3 * resyncMs));
  const seen = versions();
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'versions only go up on the stream',
  );
  assert.equal(seen.at(-1), last.version);
  assert.equal(
    await metricValue(p.base, 'projector_updates_corrected_total'),
    correctedBefore,
    'nothing was corrected',
  );
});

void test('SSE: past PROJECTOR_SSE_MAX_CLIENTS a stream is refused with 503, Retry-After and the error body', async (t) => {
  const p = await startProjector(t, { sseMaxClients: 2 });
  const refusedBefore = await metricValue(p.base, 'projector_sse_clients_refused_total');
  const a = await openStream(`${p.base}/v1/pools/stream`);
  const b = await openStream(`${p.base}/v1/pools/stream`);
  t.after(() => {
    a.res.destroy();
    b.res.destroy();
  });
  assert.equal(a.res.statusCode, 200);
  assert.equal(b.res.statusCode, 200);

  const refused = await fetch(`${p.base}/v1/pools/stream`);
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
  assert.match(String(refused.headers.get('content-type')), /^application\/json/);
  const body = (await refused.json()) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, 'too_many_streams');
  assert.equal(typeof body.error.message, 'string');
  assert.equal(await metricValue(p.base, 'projector_sse_clients_refused_total'), refusedBefore + 1);
  // Polling is not affected.
  assert.equal((await fetch(`${p.base}/v1/pools`)).status, 200);

  // A slot freed is a slot taken.
  a.res.destroy();
  await a.ended;
  assert.ok(await eventually(async () => (await sseClients(p.base)) === 1, 5_000));
  const c = await openStream(`${p.base}/v1/pools/stream`);
  t.after(() => c.res.destroy());
  assert.equal(c.res.statusCode, 200);
});

/** A counter's value summed over its series (the meter is shared by every projector of this file). */
async function metricValue(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))) sum += Number(m[1]);
  return sum;
}

void test('GET /v1/pools, answered before Fastify, still obeys the connection cap: 503 over_capacity with Retry-After', async (t) => {
  const p = await startProjector(t, {
    http: {
      maxConnections: 2,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
    },
    sseMaxClients: 2,
  });
  const held = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(Number(new URL(p.base).port), '127.0.0.1', () => resolve(s));
          s.on('error', reject);
        }),
    ),
  );
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 100));
  const refused = await fetch(`${p.base}/v1/pools`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'over_capacity');
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const served = await fetch(`${p.base}/v1/pools`);
  assert.equal(served.status, 200);
  assert.deepEqual(await served.json(), await expectedFromDb());
});

void test('before the initial load, GET /v1/pools (a raw GET, which then declines) and a pool answer 503 not_ready through Fastify', async () => {
  const [port, deadPort] = [await freePort(), await freePort()];
  const projector = createProjector(
    {
      ...loadProjectorConfig({}),
      kafkaBrokers: brokers,
      // Nothing listens there: the initial load is retried while HTTP already answers.
      databaseUrl: `postgres://postgres@127.0.0.1:${deadPort}/jackpot`,
      topic: await randomTopic('pool-updates', 1, { 'cleanup.policy': 'compact' }),
      port,
      host: '127.0.0.1',
    },
    { logger, telemetry },
  );
  const starting = projector.start().then(
    () => 'started',
    () => 'failed',
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    assert.ok(
      await eventually(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok === true, 20_000),
    );
    for (const path of ['/v1/pools', '/v1/pools?x=1', '/v1/pools/demo:mini']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 503, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_ready', path);
    }
  } finally {
    await projector.stop();
    assert.equal(await starting, 'failed');
  }
});
