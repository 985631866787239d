/**
 * The gateway in-process on port 0, against the real broker (a topic per test) and a fresh
 * database: what game servers and operators see over HTTP, and what lands in Kafka.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Kafka } from 'kafkajs';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createLogger } from '../../shared/src/logger.js';
import { createWagerProducer, type WagerMessage, type WagerProducer } from '../../shared/src/producer.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { createIngestApp } from '../../services/ingest/src/app.js';
import type { RateLimitConfig } from '../../services/ingest/src/config.js';
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
  gameKey = (await createApiKey(db.pool, { role: 'game', name: 'test game server' })).key;
  adminKey = (await createApiKey(db.pool, { role: 'admin', name: 'test operator' })).key;
});
after(async () => {
  for (const stop of stops.reverse()) await stop();
  await telemetry.shutdown();
});

const GENEROUS: RateLimitConfig = { perSecond: 1_000_000, burst: 1_000_000 };

interface Gateway {
  readonly url: string;
  readonly topic: string;
  readonly drain: (ms: number) => Promise<void>;
}

async function startGateway(
  opts: { rateLimit?: RateLimitConfig; producer?: WagerProducer; topic?: string } = {},
): Promise<Gateway> {
  const topic = opts.topic ?? (await randomTopic('ingest', 3));
  const producer = opts.producer ?? createWagerProducer({ kafka, topic });
  if (opts.producer === undefined) await producer.connect();
  const ingest = createIngestApp({
    db: db.pool,
    producer,
    logger,
    telemetry,
    rateLimit: opts.rateLimit ?? GENEROUS,
    keyCacheTtlSeconds: 30,
  });
  const url = await ingest.app.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    await ingest.close();
    await producer.disconnect();
  });
  return { url, topic, drain: (ms) => ingest.drain(ms) };
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
    assert.equal((await readTopic(kafka, gw.topic, (got) => got.length >= 0, { timeoutMs: 20_000 })).length, 0);
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
    const other = (await createApiKey(db.pool, { role: 'game', name: 'another server' })).key;
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
  '503 kafka_unavailable when Kafka refuses the send, and nothing is reported accepted',
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
    assert.match((answer.body as { error: { message: string } }).error.message, /safe/);
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
      body: { currency: 'EUR', pools: [{ tier: 'main', seedMinor: 700, contributionPpm: 10_000, mustHitByMinor: 900 }], games: ['wins-game'] },
    });
    assert.equal(put.status, 200);
    const claim = { claimId: `c-${uniqueSuffix()}`, poolId: 'wins-test:main', gameId: 'wins-game', playerId: 'lucky' };
    const first = await call(gw, 'POST', '/v1/wins', { body: claim });
    assert.equal(first.status, 200);
    const answer = first.body as { winId: string; poolId: string; cycle: number; amountMinor: number; wonAt: string };
    assert.deepEqual(Object.keys(answer).sort(), ['amountMinor', 'cycle', 'poolId', 'winId', 'wonAt']);
    assert.equal(answer.amountMinor, 700, 'a fresh pool pays its seed');
    assert.equal(answer.cycle, 1);
    assert.deepEqual((await call(gw, 'POST', '/v1/wins', { body: claim })).body, answer, 'same claimId, same answer');

    assert.equal(errorCode(await call(gw, 'POST', '/v1/wins', { body: { ...claim, poolId: 'wins-test:other' } })), 'claim_id_reused');
    assert.equal(errorCode(await call(gw, 'POST', '/v1/wins', { body: { ...claim, claimId: 'x1', poolId: 'nope:main' } })), 'pool_not_found');
    assert.equal(errorCode(await call(gw, 'POST', '/v1/wins', { body: { ...claim, claimId: 'x2', gameId: 'other-game' } })), 'game_not_linked');
    const bad = await call(gw, 'POST', '/v1/wins', { body: { claimId: 'x3', poolId: 'wins-test:main' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'invalid_claim');
    assert.equal((await call(gw, 'POST', '/v1/wins', { key: null, body: claim })).status, 401);

    const meters = await call(gw, 'GET', '/v1/admin/pools/wins-test:main/meters', { key: adminKey });
    assert.equal(meters.status, 200);
    const m = meters.body as { hits: number; wonMicro: string; topUpMicro: string; cycle: number; lastWins: { winId: string }[] };
    assert.equal(m.hits, 1);
    assert.equal(m.wonMicro, '700000000');
    assert.equal(m.topUpMicro, '1400000000', 'initial seed and the reseed, both topped up (empty reserve)');
    assert.equal(m.cycle, 2);
    assert.deepEqual(m.lastWins.map((w) => w.winId), [answer.winId]);
    assert.doesNotMatch(JSON.stringify(meters.body), /trigger/i);
    assert.equal((await call(gw, 'GET', '/v1/admin/pools/wins-test:main/meters')).status, 403, 'meters need an admin key');
    assert.equal((await call(gw, 'GET', '/v1/admin/pools/nope:main/meters', { key: adminKey })).status, 404);
    const all = await call(gw, 'GET', '/v1/admin/meters', { key: adminKey });
    assert.ok((all.body as { poolId: string }[]).some((p) => p.poolId === 'wins-test:main'));
  },
);

void test('fx rates are set by admins, validated and audited', { timeout: TEST_TIMEOUT }, async () => {
  const gw = await startGateway();
  const set = await call(gw, 'PUT', '/v1/admin/fx-rates/USD/EUR', { key: adminKey, body: { rateMicro: 920_000 } });
  assert.equal(set.status, 200);
  assert.equal((set.body as { rateMicro: number }).rateMicro, 920_000);
  assert.equal((await call(gw, 'PUT', '/v1/admin/fx-rates/USD/EUR', { key: adminKey, body: { rateMicro: 930_000 } })).status, 200);
  const listed = await call(gw, 'GET', '/v1/admin/fx-rates', { key: adminKey });
  assert.deepEqual((listed.body as { from: string; to: string; rateMicro: number }[]).map((r) => [r.from, r.to, r.rateMicro]), [['USD', 'EUR', 930_000]]);
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
  const audit = await db.pool.query<{ old_value: unknown; new_value: unknown }>("SELECT old_value, new_value FROM jackpot.config_audit WHERE subject = 'fx:USD>EUR' ORDER BY id");
  assert.deepEqual(audit.rows, [
    { old_value: null, new_value: 920000 },
    { old_value: 920000, new_value: 930000 },
  ]);
});
