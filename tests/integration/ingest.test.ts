/**
 * The gateway in-process on port 0, against the real broker (a topic per test) and a fresh
 * database: what game servers and operators see over HTTP, and what lands in Kafka.
 *
 * Organised as: one database, a game key and an admin key shared by all (`before`), a gateway of
 * its own per test, one test per behaviour in the order wagers and their status codes, readiness
 * and draining, admin routes, metrics, wins, fx rates, key scopes, claim limits and revocation,
 * and the connection and timeout guards last.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Kafka } from 'kafkajs';
import type pg from 'pg';
import { createApiKey, revokeApiKey, type JackpotScope } from '../../shared/src/api-keys.js';
import type { HttpLimits } from '../../shared/src/http.js';
import { createLogger } from '../../shared/src/logger.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import { createWagerProducer, type WagerProducer } from '../../shared/src/producer.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { createIngestApp } from '../../services/ingest/src/app.js';
import { loadIngestConfig, type AuthConfig, type RateLimitConfig } from '../../services/ingest/src/config.js';
import { createTestDatabase } from '../helpers/db.js';
import { kafkaForTests, randomTopic, readTopic, uniqueSuffix } from '../helpers/kafka.js';

const TEST_TIMEOUT = 60_000;
const db = await createTestDatabase();
const telemetry = startTelemetry('ingest-test');
const logger = createLogger('ingest-test', 'silent');
const kafka = kafkaForTests();
const stops: (() => Promise<void>)[] = [];
let gameKey = '';
let adminKey = '';

before(async () => {
  gameKey = (await createApiKey(db.pool, { role: 'game', name: 'test game server', jackpots: 'all' })).key;
  adminKey = (await createApiKey(db.pool, { role: 'admin', name: 'test operator' })).key;
});
after(async () => {
  for (const stop of stops.reverse()) await stop();
  await telemetry.shutdown();
});

const GENEROUS: RateLimitConfig = { perSecond: 1_000_000, burst: 1_000_000 };
/** The production defaults of what the tests below do not set. */
const DEFAULTS = loadIngestConfig({});

interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly topic: string;
  readonly drain: (ms: number) => Promise<void>;
}

async function startGateway(
  opts: {
    rateLimit?: RateLimitConfig;
    claimRateLimit?: RateLimitConfig;
    auth?: AuthConfig;
    httpLimits?: HttpLimits;
    producer?: WagerProducer;
    topic?: string;
    db?: pg.Pool;
  } = {},
): Promise<Gateway> {
  const topic = opts.topic ?? (await randomTopic('ingest', 3));
  const producer = opts.producer ?? createWagerProducer({ kafka, topic });
  if (opts.producer === undefined) await producer.connect();
  const ingest = createIngestApp({
    db: opts.db ?? db.pool,
    producer,
    logger,
    telemetry,
    rateLimit: opts.rateLimit ?? GENEROUS,
    claimRateLimit: opts.claimRateLimit ?? GENEROUS,
    auth: opts.auth ?? DEFAULTS.auth,
    ...(opts.httpLimits === undefined ? {} : { httpLimits: opts.httpLimits }),
  });
  const url = await ingest.app.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    await ingest.close();
    await producer.disconnect();
  });
  return { url, port: Number(new URL(url).port), topic, drain: (ms) => ingest.drain(ms) };
}

/** A game key of its own for one test. */
async function gameKeyFor(
  jackpots: JackpotScope,
  name = 'scoped server',
): Promise<{ keyId: string; key: string }> {
  return createApiKey(db.pool, { role: 'game', name, jackpots });
}

/** `pool`, with a count of the `pool.query` calls whose text matches `pattern`. */
function countingQueries(
  pool: pg.Pool,
  pattern: RegExp,
): { pool: pg.Pool; count: () => number; reset: () => void } {
  let n = 0;
  const proxy = new Proxy(pool, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'query') {
        return (...args: unknown[]) => {
          const first = args[0];
          const text =
            typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
          if (pattern.test(text)) n++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { pool: proxy, count: () => n, reset: () => (n = 0) };
}

function wager(overrides: Partial<Record<keyof WagerMessage, unknown>> = {}): Record<string, unknown> {
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    gameId: 'starburst-eu',
    playerId: `p-${uniqueSuffix()}`,
    currency: 'EUR',
    amountMinor: 250,
    ...overrides,
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

async function call(
  gw: Gateway,
  method: string,
  path: string,
  opts: { key?: string | null; body?: unknown; raw?: string; contentType?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? gameKey : opts.key;
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.body !== undefined) {
    body = opts.raw ?? JSON.stringify(opts.body);
    headers['content-type'] = opts.contentType ?? 'application/json';
  }
  const res = await fetch(`${gw.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

const post = (gw: Gateway, body: unknown, opts: { key?: string | null } = {}) =>
  call(gw, 'POST', '/v1/wagers', { ...opts, body });

function errorCode(answer: Answer): unknown {
  return (answer.body as { error?: { code?: unknown } }).error?.code;
}

void test(
  '202 counts accepted wagers and lists rejected ones by index; exactly the accepted ones are in Kafka',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const good = [
      wager(),
      wager({ eventId: '0B6F0C1E-4D4F-4F5E-9A43-8D2B1F0F6A10', extra: 'ignored' } as Partial<
        Record<keyof WagerMessage, unknown>
      >),
      wager(),
    ];
    const body = {
      wagers: [good[0], wager({ eventId: undefined }), good[1], wager({ amountMinor: 0 }), good[2], 'nope'],
    };
    const answer = await post(gw, body);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const result = answer.body as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    assert.equal(result.accepted, 3);
    assert.deepEqual(
      result.rejected.map((r) => [r.index, r.code]),
      [
        [1, 'missing_field'],
        [3, 'amount_out_of_range'],
        [5, 'not_an_object'],
      ],
    );
    for (const r of result.rejected) assert.ok(r.message.length > 0);

    const messages = await readTopic(kafka, gw.topic, (got) => got.length >= 3, { timeoutMs: 20_000 });
    assert.equal(messages.length, 3);
    const expected = good.map((w) => ({
      eventId: String(w['eventId']).toLowerCase(),
      occurredAt: w['occurredAt'],
      gameId: w['gameId'],
      playerId: w['playerId'],
      currency: w['currency'],
      amountMinor: w['amountMinor'],
    }));
    const got = messages.map((m) => ({
      key: m.key?.toString('utf8'),
      value: JSON.parse(m.value?.toString('utf8') ?? '') as WagerMessage,
    }));
    assert.deepEqual(
      new Set(got.map((g) => JSON.stringify(g.value))),
      new Set(expected.map((e) => JSON.stringify(e))),
    );
    for (const g of got) assert.equal(g.key, g.value.playerId);
  },
);

void test('one wager (not wrapped in a batch) is accepted', { timeout: TEST_TIMEOUT }, async () => {
  const gw = await startGateway();
  const w = wager();
  const answer = await post(gw, w);
  assert.equal(answer.status, 202);
  assert.deepEqual(answer.body, { accepted: 1, rejected: [] });
  const [message] = await readTopic(kafka, gw.topic, (got) => got.length >= 1, { timeoutMs: 20_000 });
  assert.equal(message?.key?.toString('utf8'), w['playerId']);
});

void test(
  '400 when no wager is valid, with the same rejected list in error.details; nothing is sent',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const answer = await post(gw, { wagers: [wager({ currency: 'eur' }), wager({ amountMinor: '250' })] });
    assert.equal(answer.status, 400);
    const error = (answer.body as { error: { code: string; details: { index: number; code: string }[] } })
      .error;
    assert.equal(error.code, 'invalid_wagers');
    assert.deepEqual(
      error.details.map((d) => [d.index, d.code]),
      [
        [0, 'invalid_currency'],
        [1, 'wrong_type'],
      ],
    );
    const single = await post(gw, wager({ occurredAt: 'yesterday' }));
    assert.equal(single.status, 400);
    assert.match((single.body as { error: { message: string } }).error.message, /occurredAt/);

    for (const bad of [[], { wagers: [] }, { wagers: {} }]) {
      const r = await post(gw, bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(errorCode(r), 'bad_request');
    }
    assert.equal(
      (await call(gw, 'POST', '/v1/wagers', { raw: '{"wagers": [' })).status,
      400,
      'malformed JSON',
    );
    assert.equal(
      (await readTopic(kafka, gw.topic, (got) => got.length >= 0, { timeoutMs: 20_000 })).length,
      0,
    );
  },
);

void test(
  '401 without a key, with another scheme, or with an unknown key',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const unknown = `jk_game_${'A'.repeat(43)}`;
    for (const key of [null, 'garbage', unknown, adminKey.replace('jk_admin_', 'jk_game_')]) {
      const r = await post(gw, wager(), { key });
      assert.equal(r.status, 401, String(key));
      assert.equal(errorCode(r), 'unauthorized');
    }
    const basic = await fetch(`${gw.url}/v1/wagers`, {
      method: 'POST',
      headers: { authorization: `Basic ${gameKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(wager()),
    });
    assert.equal(basic.status, 401);
    // The key is checked before the body is read: a bad key with a bad body is still 401.
    assert.equal(
      (await call(gw, 'POST', '/v1/wagers', { key: null, raw: 'x', contentType: 'text/plain' })).status,
      401,
    );
  },
);

void test(
  '413 for more than 1,000 wagers or more than 1 MiB; 415 when not JSON',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const many = await post(gw, { wagers: Array.from({ length: 1001 }, () => wager()) });
    assert.equal(many.status, 413);
    assert.equal(errorCode(many), 'too_many_wagers');

    const thousand = await post(gw, { wagers: Array.from({ length: 1000 }, () => wager()) });
    assert.equal(thousand.status, 202, 'exactly 1,000 is fine');

    const padding = 'x'.repeat(1100);
    const big = await post(gw, {
      wagers: Array.from({ length: 1000 }, () =>
        wager({ padding } as Partial<Record<keyof WagerMessage, unknown>>),
      ),
    });
    assert.equal(big.status, 413);
    assert.equal(errorCode(big), 'payload_too_large');

    const text = await call(gw, 'POST', '/v1/wagers', {
      raw: JSON.stringify(wager()),
      contentType: 'text/plain',
    });
    assert.equal(text.status, 415);
    assert.equal(errorCode(text), 'unsupported_media_type');
  },
);

void test(
  '429 with an integer Retry-After once the key has used its burst; other keys are not affected',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway({ rateLimit: { perSecond: 0.2, burst: 3 } });
    assert.equal((await post(gw, { wagers: [wager(), wager()] })).status, 202);
    assert.equal((await post(gw, wager())).status, 202);
    const limited = await post(gw, wager());
    assert.equal(limited.status, 429);
    assert.equal(errorCode(limited), 'rate_limited');
    const retryAfter = limited.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^[1-9]\d*$/);
    assert.equal(Number(retryAfter), 5, 'one wager at 0.2 a second');
    // Invalid wagers count too.
    assert.equal((await post(gw, wager({ amountMinor: -1 }))).status, 429);
    const other = (await gameKeyFor('all', 'another server')).key;
    assert.equal((await post(gw, wager(), { key: other })).status, 202);
    // More than the bucket can ever hold is not worth waiting for.
    const tooMany = await post(gw, { wagers: [wager(), wager(), wager(), wager()] }, { key: other });
    assert.equal(tooMany.status, 413);
    assert.equal(errorCode(tooMany), 'too_many_wagers');
  },
);

void test(
  '503 kafka_unavailable and not ready when the broker cannot be reached',
  { timeout: TEST_TIMEOUT },
  async () => {
    const unreachable = new Kafka({
      clientId: 'unreachable',
      brokers: ['127.0.0.1:1'],
      connectionTimeout: 200,
      retry: { retries: 0 },
      logLevel: 0,
    });
    const producer = createWagerProducer({ kafka: unreachable, retry: { retries: 0 } });
    await assert.rejects(producer.connect());
    const gw = await startGateway({ producer, topic: 'unused' });
    const answer = await post(gw, { wagers: [wager(), wager()] });
    assert.equal(answer.status, 503);
    assert.equal(errorCode(answer), 'kafka_unavailable');
    assert.equal((await call(gw, 'GET', '/readyz', { key: null })).status, 503);
    assert.equal((await call(gw, 'GET', '/healthz', { key: null })).status, 200);
  },
);

void test(
  '503 kafka_unavailable when Kafka acknowledges none of the wagers, with what became of each item',
  { timeout: TEST_TIMEOUT },
  async () => {
    // Connected to the real broker, producing to a topic that does not exist (auto-creation is off).
    const producer = createWagerProducer({
      kafka,
      topic: `test.ingest.missing.${uniqueSuffix()}`,
      retry: { retries: 1, initialRetryTime: 100 },
    });
    await producer.connect();
    const gw = await startGateway({ producer, topic: 'unused' });
    const answer = await post(gw, { wagers: [wager(), wager({ amountMinor: 0 })] });
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(errorCode(answer), 'kafka_unavailable');
    const error = (answer.body as { error: { message: string; details: { index: number; code: string }[] } })
      .error;
    assert.match(error.message, /re-send/);
    assert.deepEqual(
      error.details.map((d) => [d.index, d.code]),
      [
        [0, 'kafka_unavailable'],
        [1, 'amount_out_of_range'],
      ],
    );
  },
);

void test(
  'when Kafka acknowledges part of a request, the answer is 202 with exactly those accepted and the rest kafka_unavailable',
  { timeout: TEST_TIMEOUT },
  async () => {
    // A real broker refusal for one wager only: the topic takes record batches of at most 320
    // bytes, and one wager per batch (no linger). Short ids fit (~240 bytes); 64-character game
    // and player ids do not (~400 bytes), and Kafka refuses that batch (MESSAGE_TOO_LARGE).
    const topic = await randomTopic('ingest-partial', 1, { 'max.message.bytes': '320' });
    const producer = createWagerProducer({
      kafka,
      topic,
      maxBatchMessages: 1,
      lingerMs: 0,
      retry: { retries: 1, initialRetryTime: 100 },
    });
    await producer.connect();
    const gw = await startGateway({ producer, topic });
    const small = [wager({ playerId: 'p-1' }), wager({ playerId: 'p-2' })];
    const big = wager({ gameId: 'g'.repeat(64), playerId: 'p'.repeat(64) });
    const answer = await post(gw, { wagers: [small[0], wager({ amountMinor: 0 }), small[1], big] });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const body = answer.body as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [
        [1, 'amount_out_of_range'],
        [3, 'kafka_unavailable'],
      ],
    );
    assert.match(body.rejected[1]?.message ?? '', /re-send/);
    const messages = await readTopic(kafka, topic, (got) => got.length >= 2, { timeoutMs: 20_000 });
    assert.deepEqual(
      messages
        .map((m) => (JSON.parse(m.value?.toString('utf8') ?? '{}') as { eventId: string }).eventId)
        .sort(),
      small.map((w) => String(w['eventId'])).sort(),
      'what is reported accepted is exactly what Kafka holds',
    );
  },
);

void test(
  'ready when Kafka and Postgres are; draining refuses new requests with 503',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    assert.equal((await call(gw, 'GET', '/readyz', { key: null })).status, 200);
    await gw.drain(1000);
    assert.equal((await call(gw, 'GET', '/readyz', { key: null })).status, 503);
    const refused = await post(gw, wager());
    assert.equal(refused.status, 503);
    assert.equal(errorCode(refused), 'shutting_down');
  },
);

const JACKPOT = {
  currency: 'EUR',
  pools: [
    { tier: 'mini', seedMinor: 1000, contributionPpm: 5000 },
    {
      tier: 'grand',
      seedMinor: 1_000_000,
      contributionPpm: 1000,
      reservePpm: 200,
      ceilingMinor: 9_000_000,
      overflow: 'next-cycle',
    },
  ],
  games: ['starburst-eu', 'book-of-dead'],
};

void test(
  'admin PUT stores and starts a jackpot, GET returns it as stored; a changed pool applies next cycle',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const put = await call(gw, 'PUT', '/v1/admin/jackpots/eu-main', { key: adminKey, body: JACKPOT });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const stored = put.body as {
      jackpotId: string;
      currency: string;
      games: string[];
      pools: {
        poolId: string;
        tier: string;
        current: { cycle: number };
        appliesFromCycle: number;
        reservePpm: number;
      }[];
    };
    assert.equal(stored.jackpotId, 'eu-main');
    assert.deepEqual(
      stored.pools.map((p) => p.poolId),
      ['eu-main:mini', 'eu-main:grand'],
    );
    assert.deepEqual(stored.games, ['book-of-dead', 'starburst-eu']);
    assert.equal(stored.pools[0]?.reservePpm, 0);

    const get = await call(gw, 'GET', '/v1/admin/jackpots/eu-main', { key: adminKey });
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, put.body);

    const totals = await db.pool.query<{ pool_id: string; amount_minor: string; cycle: number }>(
      `SELECT pool_id, amount_minor::text, cycle FROM jackpot.pool_totals WHERE jackpot_id = 'eu-main' ORDER BY pool_id`,
    );
    assert.deepEqual(totals.rows, [
      { pool_id: 'eu-main:grand', amount_minor: '1000000', cycle: 1 },
      { pool_id: 'eu-main:mini', amount_minor: '1000', cycle: 1 },
    ]);

    // The output of GET, edited, goes back in.
    const edited = {
      ...(get.body as Record<string, unknown>),
      pools: stored.pools.map((p) => (p.tier === 'mini' ? { ...p, contributionPpm: 6000 } : p)),
    };
    const again = await call(gw, 'PUT', '/v1/admin/jackpots/eu-main', { key: adminKey, body: edited });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const mini = (again.body as typeof stored).pools.find((p) => p.tier === 'mini');
    assert.deepEqual([mini?.current.cycle, mini?.appliesFromCycle], [1, 2]);
  },
);

void test(
  'admin: 400 with details, 404, 409 for a game of another jackpot, 403 for a game key, 401 without a key',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const invalid = await call(gw, 'PUT', '/v1/admin/jackpots/bad', {
      key: adminKey,
      body: { currency: 'eur', pools: [{ tier: 'mini', seedMinor: -1, contributionPpm: 5000 }], games: [] },
    });
    assert.equal(invalid.status, 400);
    const error = (invalid.body as { error: { code: string; details: { path: string; code: string }[] } })
      .error;
    assert.equal(error.code, 'invalid_configuration');
    assert.deepEqual(
      error.details.map((d) => [d.path, d.code]),
      [
        ['currency', 'invalid_format'],
        ['pools[0].seedMinor', 'out_of_range'],
      ],
    );
    assert.equal((await call(gw, 'GET', '/v1/admin/jackpots/bad', { key: adminKey })).status, 404);
    assert.equal(
      (
        await call(gw, 'PUT', '/v1/admin/jackpots/bad', {
          key: adminKey,
          raw: 'currency=EUR',
          contentType: 'text/plain',
        })
      ).status,
      415,
    );

    assert.equal(
      (
        await call(gw, 'PUT', '/v1/admin/jackpots/first', {
          key: adminKey,
          body: { ...JACKPOT, games: ['shared-game'] },
        })
      ).status,
      200,
    );
    const taken = await call(gw, 'PUT', '/v1/admin/jackpots/second', {
      key: adminKey,
      body: { ...JACKPOT, games: ['own-game', 'shared-game'] },
    });
    assert.equal(taken.status, 409);
    const conflict = (taken.body as { error: { code: string; details: { path: string }[] } }).error;
    assert.equal(conflict.code, 'game_linked_elsewhere');
    assert.deepEqual(
      conflict.details.map((d) => d.path),
      ['games[1]'],
    );

    for (const [method, body] of [
      ['PUT', JACKPOT],
      ['GET', undefined],
    ] as const) {
      const forbidden = await call(gw, method, '/v1/admin/jackpots/first', { key: gameKey, body });
      assert.equal(forbidden.status, 403, method);
      assert.equal(errorCode(forbidden), 'forbidden');
      assert.equal((await call(gw, method, '/v1/admin/jackpots/first', { key: null, body })).status, 401);
    }
  },
);

void test(
  '/metrics exposes requests by route and status and wagers by outcome',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    assert.equal((await post(gw, { wagers: [wager(), wager({ gameId: '' })] })).status, 202);
    const metrics = await call(gw, 'GET', '/metrics', { key: null });
    assert.equal(metrics.status, 200);
    const text = String(metrics.body);
    assert.match(text, /ingest_wagers_accepted(_total)?\{[^}]*\} [1-9]/);
    assert.match(text, /ingest_wagers_rejected(_total)?\{[^}]*reason="invalid_game_id"[^}]*\} [1-9]/);
    assert.match(
      text,
      /ingest_http_requests(_total)?\{[^}]*http_route="\/v1\/wagers"[^}]*http_response_status_code="202"/,
    );
    assert.match(text, /http_server_request_duration(_seconds)?_bucket\{/);
    assert.doesNotMatch(text, /p-[0-9a-f]{12}/, 'no player ids in labels');
  },
);

void test(
  'POST /v1/wins pays once per claimId, refuses bad claims, and meters show the win; no trigger anywhere',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const put = await call(gw, 'PUT', '/v1/admin/jackpots/wins-test', {
      key: adminKey,
      body: {
        currency: 'EUR',
        pools: [{ tier: 'main', seedMinor: 700, contributionPpm: 10_000, mustHitByMinor: 900 }],
        games: ['wins-game'],
      },
    });
    assert.equal(put.status, 200);
    const claim = {
      claimId: `c-${uniqueSuffix()}`,
      poolId: 'wins-test:main',
      gameId: 'wins-game',
      playerId: 'lucky',
    };
    const first = await call(gw, 'POST', '/v1/wins', { body: claim });
    assert.equal(first.status, 200);
    const answer = first.body as {
      winId: string;
      poolId: string;
      cycle: number;
      amountMinor: number;
      wonAt: string;
    };
    assert.deepEqual(Object.keys(answer).sort(), ['amountMinor', 'cycle', 'poolId', 'winId', 'wonAt']);
    assert.equal(answer.amountMinor, 700, 'a fresh pool pays its seed');
    assert.equal(answer.cycle, 1);
    assert.deepEqual(
      (await call(gw, 'POST', '/v1/wins', { body: claim })).body,
      answer,
      'same claimId, same answer',
    );

    assert.equal(
      errorCode(await call(gw, 'POST', '/v1/wins', { body: { ...claim, poolId: 'wins-test:other' } })),
      'claim_id_reused',
    );
    assert.equal(
      errorCode(
        await call(gw, 'POST', '/v1/wins', { body: { ...claim, claimId: 'x1', poolId: 'nope:main' } }),
      ),
      'pool_not_found',
    );
    assert.equal(
      errorCode(
        await call(gw, 'POST', '/v1/wins', { body: { ...claim, claimId: 'x2', gameId: 'other-game' } }),
      ),
      'game_not_linked',
    );
    const bad = await call(gw, 'POST', '/v1/wins', { body: { claimId: 'x3', poolId: 'wins-test:main' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'invalid_claim');
    assert.equal((await call(gw, 'POST', '/v1/wins', { key: null, body: claim })).status, 401);

    const meters = await call(gw, 'GET', '/v1/admin/pools/wins-test:main/meters', { key: adminKey });
    assert.equal(meters.status, 200);
    const m = meters.body as {
      hits: number;
      wonMicro: string;
      topUpMicro: string;
      cycle: number;
      lastWins: { winId: string }[];
    };
    assert.equal(m.hits, 1);
    assert.equal(m.wonMicro, '700000000');
    assert.equal(m.topUpMicro, '1400000000', 'initial seed and the reseed, both topped up (empty reserve)');
    assert.equal(m.cycle, 2);
    assert.deepEqual(
      m.lastWins.map((w) => w.winId),
      [answer.winId],
    );
    assert.doesNotMatch(JSON.stringify(meters.body), /trigger/i);
    assert.equal(
      (await call(gw, 'GET', '/v1/admin/pools/wins-test:main/meters')).status,
      403,
      'meters need an admin key',
    );
    assert.equal((await call(gw, 'GET', '/v1/admin/pools/nope:main/meters', { key: adminKey })).status, 404);
    const all = await call(gw, 'GET', '/v1/admin/meters', { key: adminKey });
    assert.ok((all.body as { poolId: string }[]).some((p) => p.poolId === 'wins-test:main'));
  },
);

void test('fx rates are set by admins, validated and audited', { timeout: TEST_TIMEOUT }, async () => {
  const gw = await startGateway();
  const set = await call(gw, 'PUT', '/v1/admin/fx-rates/USD/EUR', {
    key: adminKey,
    body: { rateMicro: 920_000 },
  });
  assert.equal(set.status, 200);
  assert.equal((set.body as { rateMicro: number }).rateMicro, 920_000);
  assert.equal(
    (await call(gw, 'PUT', '/v1/admin/fx-rates/USD/EUR', { key: adminKey, body: { rateMicro: 930_000 } }))
      .status,
    200,
  );
  const listed = await call(gw, 'GET', '/v1/admin/fx-rates', { key: adminKey });
  assert.deepEqual(
    (listed.body as { from: string; to: string; rateMicro: number }[]).map((r) => [
      r.from,
      r.to,
      r.rateMicro,
    ]),
    [['USD', 'EUR', 930_000]],
  );
  for (const [path, body] of [
    ['/v1/admin/fx-rates/usd/EUR', { rateMicro: 1 }],
    ['/v1/admin/fx-rates/EUR/EUR', { rateMicro: 1 }],
    ['/v1/admin/fx-rates/USD/EUR', { rateMicro: 0 }],
    ['/v1/admin/fx-rates/USD/EUR', { rateMicro: 1.5 }],
  ] as const) {
    const r = await call(gw, 'PUT', path, { key: adminKey, body });
    assert.equal(r.status, 400, path);
    assert.equal(errorCode(r), 'invalid_fx_rate');
  }
  assert.equal((await call(gw, 'PUT', '/v1/admin/fx-rates/USD/EUR', { body: { rateMicro: 1 } })).status, 403);
  const audit = await db.pool.query<{ old_value: unknown; new_value: unknown }>(
    "SELECT old_value, new_value FROM jackpot.config_audit WHERE subject = 'fx:USD>EUR' ORDER BY id",
  );
  assert.deepEqual(audit.rows, [
    { old_value: null, new_value: 920000 },
    { old_value: 920000, new_value: 930000 },
  ]);
});

/** Two jackpots of one pool each: `${id}:main`, games `${id}-1` and `${id}-2`. */
async function twoJackpots(gw: Gateway, a: string, b: string): Promise<void> {
  for (const id of [a, b]) {
    const put = await call(gw, 'PUT', `/v1/admin/jackpots/${id}`, {
      key: adminKey,
      body: {
        currency: 'EUR',
        pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 10_000 }],
        games: [`${id}-1`, `${id}-2`],
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
}

void test(
  "a scoped game key sends wagers only for its jackpots' games: game_not_in_scope per item, 400 when none is left; unlinked games go on",
  { timeout: TEST_TIMEOUT },
  async () => {
    const games = countingQueries(db.pool, /jackpot\.games/);
    const gw = await startGateway({ db: games.pool });
    await twoJackpots(gw, 'scope-a', 'scope-b');
    const scoped = (await gameKeyFor(['scope-a'])).key;

    const mixed = [
      wager({ gameId: 'scope-a-1' }),
      wager({ gameId: 'scope-b-1' }),
      wager({ gameId: 'linked-to-nothing' }),
      wager({ gameId: 'scope-b-2', amountMinor: 0 }),
    ];
    const answer = await post(gw, { wagers: mixed }, { key: scoped });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const body = answer.body as { accepted: number; rejected: { index: number; code: string }[] };
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [
        [1, 'game_not_in_scope'],
        [3, 'amount_out_of_range'],
      ],
    );
    const sent = await readTopic(kafka, gw.topic, (got) => got.length >= 2, { timeoutMs: 20_000 });
    assert.deepEqual(
      sent.map((m) => (JSON.parse(m.value?.toString('utf8') ?? '{}') as { gameId: string }).gameId).sort(),
      ['linked-to-nothing', 'scope-a-1'],
    );

    games.reset();
    for (let i = 0; i < 5; i++) {
      const none = await post(
        gw,
        { wagers: [wager({ gameId: 'scope-b-1' }), wager({ gameId: 'scope-b-2' })] },
        { key: scoped },
      );
      assert.equal(none.status, 400);
      assert.equal(errorCode(none), 'invalid_wagers');
      assert.deepEqual(
        (none.body as { error: { details: { index: number; code: string }[] } }).error.details.map((d) => [
          d.index,
          d.code,
        ]),
        [
          [0, 'game_not_in_scope'],
          [1, 'game_not_in_scope'],
        ],
      );
    }
    assert.ok(
      games.count() <= 1,
      `game links are cached, not read per request (${games.count()} reads for 5 requests)`,
    );

    const unscoped = (await gameKeyFor('all', 'unscoped server')).key;
    assert.equal(
      (await post(gw, wager({ gameId: 'scope-b-1' }), { key: unscoped })).status,
      202,
      'an all-jackpots key sends for any game',
    );
    assert.equal((await post(gw, wager({ gameId: 'scope-b-1' }), { key: gameKey })).status, 202);
  },
);

void test(
  'a scoped game key claims only pools of its jackpots (403 otherwise, even for pools that do not exist); an admin key is refused on wagers and wins',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    await twoJackpots(gw, 'claim-a', 'claim-b');
    const scoped = (await gameKeyFor(['claim-a'])).key;
    const claim = (poolId: string, gameId: string) => ({
      claimId: `c-${uniqueSuffix()}`,
      poolId,
      gameId,
      playerId: 'lucky',
    });

    for (const poolId of ['claim-b:main', 'claim-b:nope', 'nowhere:main']) {
      const refused = await call(gw, 'POST', '/v1/wins', { key: scoped, body: claim(poolId, 'claim-b-1') });
      assert.equal(refused.status, 403, poolId);
      assert.equal(errorCode(refused), 'pool_not_in_scope', poolId);
    }
    const before = await db.pool.query(
      "SELECT count(*)::int AS n FROM jackpot.wins WHERE pool_id = 'claim-b:main'",
    );
    assert.deepEqual(before.rows, [{ n: 0 }], 'nothing was paid out of scope');

    const won = await call(gw, 'POST', '/v1/wins', { key: scoped, body: claim('claim-a:main', 'claim-a-1') });
    assert.equal(won.status, 200, JSON.stringify(won.body));
    assert.equal((won.body as { amountMinor: number }).amountMinor, 500);
    const all = await call(gw, 'POST', '/v1/wins', {
      key: gameKey,
      body: claim('claim-b:main', 'claim-b-1'),
    });
    assert.equal(all.status, 200, 'an all-jackpots key claims any pool');

    const adminWager = await post(gw, wager(), { key: adminKey });
    assert.equal(adminWager.status, 403);
    assert.equal(errorCode(adminWager), 'forbidden');
    const adminClaim = await call(gw, 'POST', '/v1/wins', {
      key: adminKey,
      body: claim('claim-a:main', 'claim-a-1'),
    });
    assert.equal(adminClaim.status, 403);
    assert.equal(errorCode(adminClaim), 'forbidden');
  },
);

void test(
  'claims are rate-limited per key: 429 with Retry-After; other keys are not affected',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway({ claimRateLimit: { perSecond: 0.2, burst: 2 } });
    await twoJackpots(gw, 'rate-a', 'rate-b');
    const key = (await gameKeyFor(['rate-a'])).key;
    const claim = () => ({
      claimId: `c-${uniqueSuffix()}`,
      poolId: 'rate-a:main',
      gameId: 'rate-a-1',
      playerId: 'p',
    });
    assert.equal((await call(gw, 'POST', '/v1/wins', { key, body: claim() })).status, 200);
    assert.equal(
      (await call(gw, 'POST', '/v1/wins', { key, body: { claimId: 'not a claim' } })).status,
      400,
      'an invalid claim counts too',
    );
    const limited = await call(gw, 'POST', '/v1/wins', { key, body: claim() });
    assert.equal(limited.status, 429);
    assert.equal(errorCode(limited), 'rate_limited');
    assert.equal(limited.headers.get('retry-after'), '5', 'one claim at 0.2 a second');
    const paid = await db.pool.query(
      "SELECT count(*)::int AS n FROM jackpot.wins WHERE pool_id = 'rate-a:main'",
    );
    assert.deepEqual(paid.rows, [{ n: 1 }]);
    assert.equal(
      (await call(gw, 'POST', '/v1/wins', { key: gameKey, body: claim() })).status,
      200,
      'another key has its own bucket',
    );
  },
);

void test(
  'a revoked key is refused (401) within 5 s by a gateway that was trusting it',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway();
    const { keyId, key } = await gameKeyFor('all', 'to be revoked');
    // `{}` is authenticated, then refused as an invalid wager (400): no Kafka needed to tell 401 apart.
    assert.equal((await post(gw, {}, { key })).status, 400, 'the key works and is now trusted');
    assert.equal((await revokeApiKey(db.pool, keyId)).kind, 'revoked');
    const revokedAt = Date.now();
    let status = 400;
    while (status !== 401 && Date.now() - revokedAt < 7_000) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await post(gw, {}, { key })).status;
    }
    const tookMs = Date.now() - revokedAt;
    assert.equal(status, 401);
    assert.ok(tookMs <= 5_000, `refused ${tookMs} ms after the revocation`);
  },
);

void test(
  'unknown keys do not cost a query each, and an address with too many failures gets 429 with Retry-After, without a lookup',
  { timeout: TEST_TIMEOUT },
  async () => {
    const keys = countingQueries(db.pool, /jackpot\.api_keys/);
    const gw = await startGateway({
      db: keys.pool,
      auth: { ...DEFAULTS.auth, failures: { perSecond: 0.1, burst: 5 } },
    });
    assert.equal((await post(gw, {}, { key: gameKey })).status, 400, 'a good key: one lookup');
    const unknown = `jk_game_${'U'.repeat(43)}`;
    for (let i = 0; i < 4; i++) assert.equal((await post(gw, wager(), { key: unknown })).status, 401);
    assert.equal(keys.count(), 2, 'the unknown key was looked up once');
    assert.equal(
      (await post(gw, wager(), { key: `jk_game_${'V'.repeat(43)}` })).status,
      401,
      'the fifth failure',
    );
    const limited = await post(gw, wager(), { key: `jk_game_${'W'.repeat(43)}` });
    assert.equal(limited.status, 429);
    assert.equal(errorCode(limited), 'too_many_auth_failures');
    assert.equal(limited.headers.get('retry-after'), '10', 'one failure at 0.1 a second');
    assert.equal((await post(gw, wager(), { key: null })).status, 429, 'a missing key is a failure too');
    assert.equal(keys.count(), 3, 'no lookup once the address is limited');
    assert.equal(
      (await post(gw, {}, { key: gameKey })).status,
      400,
      'a key this gateway knows still works from that address',
    );
    const metrics = String((await call(gw, 'GET', '/metrics', { key: null })).body);
    assert.match(metrics, /ingest_auth_refused(_total)?\{[^}]*reason="too_many_failures"[^}]*\} [1-9]/);
    assert.match(metrics, /ingest_auth_key_lookups(_total)?\{[^}]*result="unknown"[^}]*\} [1-9]/);
  },
);

/**
 * A raw TCP exchange: connects, lets `talk` write, and collects what comes back until the server
 * closes the connection or `waitMs` passes (then `closedAfterMs` is null).
 */
function rawExchange(
  port: number,
  talk: (socket: Socket) => void,
  waitMs = 5_000,
): Promise<{ data: string; closedAfterMs: number | null }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let data = '';
    const socket = connect(port, '127.0.0.1', () => talk(socket));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closedAfterMs: null });
    }, waitMs);
    socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
    socket.on('error', (e) => {
      if ((e as { code?: string }).code !== 'ECONNRESET') reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closedAfterMs: Date.now() - started });
    });
  });
}

function idleConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

const LIMITS: HttpLimits = {
  maxConnections: 2,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
};

void test(
  'past the connection cap a request gets 503 with Retry-After; past twice the cap connections are closed on arrival; both are counted',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway({ httpLimits: LIMITS });
    const held = [await idleConnection(gw.port), await idleConnection(gw.port)];
    await new Promise((r) => setTimeout(r, 100));
    const refused = await call(gw, 'POST', '/v1/wagers', { body: wager() });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(errorCode(refused), 'over_capacity');
    assert.equal(refused.headers.get('retry-after'), '1');

    held.push(await idleConnection(gw.port), await idleConnection(gw.port));
    await new Promise((r) => setTimeout(r, 100));
    const dropped = await rawExchange(gw.port, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(dropped.data, '', 'closed without an answer');
    assert.ok(
      dropped.closedAfterMs !== null && dropped.closedAfterMs < 2_000,
      `closed after ${dropped.closedAfterMs} ms`,
    );

    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await post(gw, wager())).status, 202, 'served again once connections are free');
    const metrics = String((await call(gw, 'GET', '/metrics', { key: null })).body);
    assert.match(metrics, /http_server_refusals(_total)?\{[^}]*reason="over_capacity"[^}]*\} [1-9]/);
    assert.match(metrics, /http_server_refusals(_total)?\{[^}]*reason="connection_dropped"[^}]*\} [1-9]/);
  },
);

void test(
  'slow headers and slow bodies get 408 and lose their connection; an idle keep-alive connection is closed',
  { timeout: TEST_TIMEOUT },
  async () => {
    const gw = await startGateway({
      httpLimits: {
        maxConnections: 100,
        headersTimeoutMs: 300,
        requestTimeoutMs: 600,
        keepAliveTimeoutMs: 300,
      },
    });
    const slowHeaders = await rawExchange(gw.port, (s) =>
      s.write(`POST /v1/wagers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gameKey}\r\n`),
    );
    assert.match(slowHeaders.data, /^HTTP\/1\.1 408 /);
    assert.match(slowHeaders.data, /"code":"request_timeout"/);
    assert.ok(
      slowHeaders.closedAfterMs !== null && slowHeaders.closedAfterMs < 3_000,
      `closed after ${slowHeaders.closedAfterMs} ms`,
    );

    const slowBody = await rawExchange(gw.port, (s) =>
      s.write(
        `POST /v1/wagers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gameKey}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"wagers": [`,
      ),
    );
    assert.match(slowBody.data, /^HTTP\/1\.1 408 /);
    assert.ok(
      slowBody.closedAfterMs !== null && slowBody.closedAfterMs < 3_000,
      `closed after ${slowBody.closedAfterMs} ms`,
    );

    const idle = await rawExchange(gw.port, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.match(idle.data, /^HTTP\/1\.1 200 /);
    assert.ok(
      idle.closedAfterMs !== null && idle.closedAfterMs < 3_000,
      `idle connection closed after ${idle.closedAfterMs} ms`,
    );

    const metrics = String((await call(gw, 'GET', '/metrics', { key: null })).body);
    assert.match(metrics, /http_server_refusals(_total)?\{[^}]*reason="request_timeout"[^}]*\} [1-9]/);
  },
);
