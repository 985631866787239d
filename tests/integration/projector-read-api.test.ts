/**
 * The projector's read API beyond the contract (history, statistics, OpenAPI) and its cache tiers,
 * on the real broker and a fresh database: wagers go through Kafka and an in-process aggregator,
 * a win through the claim path, and every number served is checked against sums computed here
 * from the wagers sent.
 *
 * Organised as: one shared setup (`before`) starts an aggregator and a projector and sends
 * the wagers and the win; then one test per endpoint family, the cache tiers, and the OpenAPI checks last.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import type { Producer } from 'kafkajs';
import { createLogger } from '../../shared/src/logger.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { claimPoolWin, type WinAnswer } from '../../shared/src/wins.js';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { loadProjectorConfig } from '../../services/projector/src/config.js';
import { OPENAPI_DOCUMENT } from '../../services/projector/src/openapi.js';
import { createProjector, type Projector } from '../../services/projector/src/projector.js';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, prng, seedJackpot, wager, type TestWager } from '../helpers/fixtures.js';
import { brokers, kafkaForTests } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('read-api-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const telemetry = startTelemetry('read-api-test');

const JACKPOTS = [
  {
    jackpotId: 'eu',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1_000, contributionPpm: 5_000 },
      { tier: 'grand', seedMinor: 100_000, contributionPpm: 10_000 },
    ],
    games: ['g-a', 'g-b'],
  },
  {
    jackpotId: 'uk',
    currency: 'GBP',
    pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 20_000 }],
    games: ['g-c'],
  },
];
for (const j of JACKPOTS) await seedJackpot(db.pool, j);

const H = 3_600_000;
// Two whole hours before the current one: their wagers are all in the past, whenever this runs.
const H0 = Math.floor(Date.now() / H) * H - 2 * H;
const H1 = H0 + H;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The wagers sent: deterministic amounts and games, spread over H0 and H1. */
function makeWagers(n: number, seed: number): TestWager[] {
  const rnd = prng(seed);
  const games = ['g-a', 'g-b', 'g-c'];
  return Array.from({ length: n }, (_, i) => {
    const gameId = games[Math.floor(rnd() * games.length)] ?? 'g-a';
    return wager({
      gameId,
      playerId: `p-${i % 7}`,
      currency: gameId === 'g-c' ? 'GBP' : 'EUR',
      amountMinor: 1 + Math.floor(rnd() * 90_000),
      occurredAt: iso((i % 2 === 0 ? H0 : H1) + Math.floor(rnd() * (H - 1000))),
    });
  });
}

interface Sums {
  wagers: bigint;
  wageredMinor: bigint;
  contributionMicro: bigint;
}
const zero = (): Sums => ({ wagers: 0n, wageredMinor: 0n, contributionMicro: 0n });

/** Independently of the projector and of pool_hourly: sums by pool and hour from the wagers. */
function expected(wagers: readonly TestWager[]) {
  const poolsOf = new Map(
    JACKPOTS.flatMap((j) =>
      j.games.map((g) => [
        g,
        {
          jackpotId: j.jackpotId,
          pools: j.pools.map((p) => ({ id: `${j.jackpotId}:${p.tier}`, ppm: p.contributionPpm })),
        },
      ]),
    ),
  );
  const byPoolHour = new Map<string, Sums>();
  const byJackpot = new Map<string, Sums>();
  const byGame = new Map<string, Sums>();
  const add = (m: Map<string, Sums>, k: string, w: TestWager, micro: bigint, count: boolean): void => {
    const s = m.get(k) ?? zero();
    if (count) {
      s.wagers += 1n;
      s.wageredMinor += BigInt(w.amountMinor);
    }
    s.contributionMicro += micro;
    m.set(k, s);
  };
  for (const w of wagers) {
    const link = poolsOf.get(w.gameId);
    if (link === undefined) continue;
    const hour = Math.floor(Date.parse(w.occurredAt) / H) * H;
    for (const [i, p] of link.pools.entries()) {
      const micro = BigInt(w.amountMinor) * BigInt(p.ppm);
      add(byPoolHour, `${p.id}@${hour}`, w, micro, true);
      add(byJackpot, link.jackpotId, w, micro, i === 0);
      add(byGame, w.gameId, w, micro, i === 0);
    }
  }
  const amountMinor = (poolId: string): bigint => {
    const [jackpotId, tier] = poolId.split(':');
    const seed =
      JACKPOTS.find((j) => j.jackpotId === jackpotId)?.pools.find((p) => p.tier === tier)?.seedMinor ?? 0;
    let micro = BigInt(seed) * 1_000_000n;
    for (const [k, s] of byPoolHour) if (k.startsWith(`${poolId}@`)) micro += s.contributionMicro;
    return micro / 1_000_000n;
  };
  return { byPoolHour, byJackpot, byGame, amountMinor };
}

let producer: Producer | undefined;
let aggregator: Aggregator | undefined;
let projector: Projector | undefined;
let base = '';
let wagerTopic = '';
let sent: TestWager[] = [];
let win: WinAnswer | undefined;
let winGame = '';

async function send(wagers: readonly TestWager[]): Promise<void> {
  producer ??= kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: wagerTopic,
    acks: -1,
    messages: wagers.map((w) => ({ key: w.playerId, value: JSON.stringify(w) })),
  });
}

async function getJson<T>(path: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

/**
 * The served pools' amounts equal the sums computed here: every wager sent has been applied. Only
 * `poolIds` (a pool that paid a win holds its new cycle's amount, not the seed plus everything).
 */
async function applied(
  wagers: readonly TestWager[],
  poolIds = ['eu:mini', 'eu:grand', 'uk:main'],
): Promise<boolean> {
  const { amountMinor } = expected(wagers);
  const { body } = await getJson<Array<{ poolId: string; amountMinor: number }>>('/v1/pools');
  return poolIds.every((id) => {
    const p = body.find((x) => x.poolId === id);
    return p !== undefined && BigInt(p.amountMinor) === amountMinor(id);
  });
}

before(async () => {
  const config = await testAggregatorConfig('read-api', 2, 200);
  wagerTopic = config.topic;
  aggregator = createAggregator({ kafka, pool: db.pool, config, logger, meter: metrics.getMeter('test') });
  await aggregator.start();
  projector = createProjector(
    {
      ...loadProjectorConfig({}),
      kafkaBrokers: brokers,
      databaseUrl: db.url,
      topic: config.poolUpdatesTopic,
      port: 0,
      host: '127.0.0.1',
      resyncMs: 500,
    },
    { logger, telemetry },
  );
  const { port } = await projector.start();
  base = `http://127.0.0.1:${port}`;

  sent = makeWagers(120, 7);
  // A re-sent wager (same eventId, another time) counts once; a wager of an unknown game never.
  const resent = sent[3];
  assert.ok(resent);
  await send([
    ...sent,
    { ...resent, occurredAt: iso(H1 + 5) },
    wager({ gameId: 'nobody', occurredAt: iso(H0) }),
  ]);
  assert.ok(await eventually(() => applied(sent), 60_000), 'every wager applied and served');

  winGame = 'g-b';
  const outcome = await claimPoolWin(db.pool, {
    claimId: 'claim-read-api-1',
    poolId: 'eu:mini',
    gameId: winGame,
    playerId: 'p-winner',
  });
  assert.equal(outcome.kind, 'won');
  if (outcome.kind === 'won') win = outcome.answer;
});

after(async () => {
  await projector?.stop();
  await aggregator?.stop();
  await producer?.disconnect();
  await telemetry.shutdown();
});

const range = (): string => `from=${iso(H0)}&to=${iso(H1 + 2 * H)}`;

interface HistoryHour {
  hour: string;
  wagers: number;
  wageredMinor: number | null;
  contributionMicro: number;
  wins: number;
  wonMinor: number;
  archived: boolean;
}

void test('pool history: per hour, the wagers, amounts, contributions and the win, exactly', async () => {
  assert.ok(win);
  const want = expected(sent);
  for (const poolId of ['eu:mini', 'eu:grand', 'uk:main']) {
    const wonHour = Math.floor(Date.parse(win.wonAt) / H) * H;
    const hours: HistoryHour[] = [];
    for (const hour of [H0, H1, H1 + H]) {
      const s = want.byPoolHour.get(`${poolId}@${hour}`);
      const won = poolId === 'eu:mini' && hour === wonHour;
      if (s === undefined && !won) continue;
      hours.push({
        hour: iso(hour).replace('.000Z', 'Z'),
        wagers: Number(s?.wagers ?? 0n),
        wageredMinor: Number(s?.wageredMinor ?? 0n),
        contributionMicro: Number(s?.contributionMicro ?? 0n),
        wins: won ? 1 : 0,
        wonMinor: won ? win.amountMinor : 0,
        archived: false,
      });
    }
    const [jackpotId] = poolId.split(':');
    const res = await getJson<unknown>(`/v1/pools/${poolId}/history?${range()}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      poolId,
      jackpotId,
      currency: jackpotId === 'uk' ? 'GBP' : 'EUR',
      from: iso(H0),
      to: iso(H1 + 2 * H),
      hours,
    });
  }
  // A range of H1 only (given mid-hour: whole hours are served), and the default (the last 24 h).
  const one = await getJson<{ from: string; to: string; hours: HistoryHour[] }>(
    `/v1/pools/eu:grand/history?from=${iso(H1 + 60_000)}&to=${iso(H1 + 120_000)}`,
  );
  assert.equal(one.body.from, iso(H1));
  assert.equal(one.body.to, iso(H1 + H));
  assert.deepEqual(
    one.body.hours.map((h) => [h.hour, h.contributionMicro]),
    [[iso(H1).replace('.000Z', 'Z'), Number(want.byPoolHour.get(`eu:grand@${H1}`)?.contributionMicro)]],
  );
  const byDefault = await getJson<{ hours: HistoryHour[] }>('/v1/pools/eu:grand/history');
  assert.equal(
    byDefault.body.hours.reduce((n, h) => n + h.wagers, 0),
    Number(want.byJackpot.get('eu')?.wagers),
  );
});

void test('statistics by jackpot and by game: every wager once, contributions of every pool, the win', async () => {
  assert.ok(win);
  const want = expected(sent);
  const n = (x: bigint | undefined): number => Number(x ?? 0n);
  const jackpots = await getJson<{ jackpots: unknown[] }>(`/v1/stats/jackpots?${range()}`);
  assert.equal(jackpots.status, 200);
  assert.deepEqual(jackpots.body.jackpots, [
    {
      jackpotId: 'eu',
      currency: 'EUR',
      pools: 2,
      wagers: n(want.byJackpot.get('eu')?.wagers),
      wageredMinor: n(want.byJackpot.get('eu')?.wageredMinor),
      contributionMicro: n(want.byJackpot.get('eu')?.contributionMicro),
      wins: 1,
      wonMinor: win.amountMinor,
    },
    {
      jackpotId: 'uk',
      currency: 'GBP',
      pools: 1,
      wagers: n(want.byJackpot.get('uk')?.wagers),
      wageredMinor: n(want.byJackpot.get('uk')?.wageredMinor),
      contributionMicro: n(want.byJackpot.get('uk')?.contributionMicro),
      wins: 0,
      wonMinor: 0,
    },
  ]);

  const gameRow = (gameId: string) => ({
    gameId,
    jackpotId: gameId === 'g-c' ? 'uk' : 'eu',
    currency: gameId === 'g-c' ? 'GBP' : 'EUR',
    wagers: n(want.byGame.get(gameId)?.wagers),
    wageredMinor: n(want.byGame.get(gameId)?.wageredMinor),
    contributionMicro: n(want.byGame.get(gameId)?.contributionMicro),
    wins: gameId === winGame ? 1 : 0,
    wonMinor: gameId === winGame ? win?.amountMinor : 0,
  });
  const mostWagered = ['g-a', 'g-b', 'g-c'].sort(
    (a, b) => n(want.byGame.get(b)?.wageredMinor) - n(want.byGame.get(a)?.wageredMinor),
  );
  const games = await getJson<{ games: unknown[] }>(`/v1/stats/games?${range()}`);
  assert.deepEqual(games.body.games, mostWagered.map(gameRow));
  const top = await getJson<{ games: unknown[] }>(`/v1/stats/games?${range()}&limit=1`);
  assert.deepEqual(top.body.games, mostWagered.slice(0, 1).map(gameRow));
  const uk = await getJson<{ games: unknown[] }>(`/v1/stats/games?${range()}&jackpotId=uk`);
  assert.deepEqual(uk.body.games, [gameRow('g-c')]);
  const none = await getJson<{ games: unknown[] }>(
    `/v1/stats/games?from=${iso(H0 - 48 * H)}&to=${iso(H0 - 24 * H)}`,
  );
  assert.deepEqual(none.body.games, []);
});

void test('bad query parameters are 400 invalid_query naming the parameter; an unknown pool is 404', async () => {
  const table: Array<[path: string, param: string]> = [
    ['/v1/pools/eu:mini/history?from=yesterday', 'from'],
    ['/v1/pools/eu:mini/history?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'from'],
    ['/v1/pools/eu:mini/history?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'],
    ['/v1/stats/jackpots?to=soon', 'to'],
    ['/v1/stats/jackpots?from=2026-11-01&from=2026-11-02', 'from'],
    ['/v1/stats/games?limit=0', 'limit'],
    ['/v1/stats/games?limit=many', 'limit'],
    ['/v1/stats/games?jackpotId=eu:mini', 'jackpotId'],
  ];
  for (const [path, param] of table) {
    const res = await getJson<{ error: { code: string; message: string; details: { param: string } } }>(path);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.error.code, 'invalid_query', path);
    assert.equal(res.body.error.details.param, param, path);
    assert.ok(res.body.error.message.length > 0);
  }
  const missing = await getJson<{ error: { code: string } }>('/v1/pools/eu:nope/history');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'pool_not_found');
});

/** `projector_cache_requests_total{tier, result}` from the projector's /metrics. */
async function cacheCounts(): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^projector_cache_requests(?:_total)?\{([^}]*)\} (\d+)/gm)) {
    const tier = /tier="(\w+)"/.exec(m[1] ?? '')?.[1];
    const result = /result="(\w+)"/.exec(m[1] ?? '')?.[1];
    out.set(`${tier}.${result}`, Number(m[2]));
  }
  return out;
}

void test('cache tiers: a repeated question is a hit; a pool change makes its answers current within about a second', async () => {
  const path = `/v1/stats/jackpots?from=${iso(H0)}&to=${iso(H1 + H)}`;
  const first = await getJson<{
    jackpots: Array<{ jackpotId: string; wagers: number; contributionMicro: number }>;
  }>(path);
  const before = await cacheCounts();
  const again = await getJson<typeof first.body>(path);
  assert.deepEqual(again.body, first.body);
  await getJson('/v1/pools/eu:mini');
  await getJson('/v1/pools/eu:nope');
  const afterHits = await cacheCounts();
  assert.equal(
    (afterHits.get('warm.hit') ?? 0) - (before.get('warm.hit') ?? 0),
    1,
    'the second read was a warm hit',
  );
  assert.ok((afterHits.get('hot.hit') ?? 0) > (before.get('hot.hit') ?? 0), 'a pool read is a hot hit');
  assert.equal(
    (afterHits.get('hot.miss') ?? 0) - (before.get('hot.miss') ?? 0),
    1,
    'an unknown pool is a hot miss',
  );
  const metricsText = await (await fetch(`${base}/metrics`)).text();
  assert.match(metricsText, /^projector_cache_entries\{[^}]*tier="warm"[^}]*\} [1-9]/m);
  assert.match(metricsText, /^projector_cache_entries\{[^}]*tier="hot"[^}]*\} 3$/m);

  // Another wager for eu in H1: the pool update it causes invalidates the cached statistics.
  const more = wager({ gameId: 'g-a', currency: 'EUR', amountMinor: 4_321, occurredAt: iso(H1 + 1_000) });
  sent = [...sent, more];
  await send([more]);
  assert.ok(await eventually(() => applied(sent, ['eu:grand']), 30_000), 'the new wager applied');
  const eu = (b: typeof first.body) => b.jackpots.find((j) => j.jackpotId === 'eu');
  assert.ok(
    await eventually(
      async () =>
        eu((await getJson<typeof first.body>(path)).body)?.wagers === (eu(first.body)?.wagers ?? 0) + 1,
      5_000,
    ),
    'the statistics count the new wager',
  );
  const now = eu((await getJson<typeof first.body>(path)).body);
  assert.equal(now?.contributionMicro, (eu(first.body)?.contributionMicro ?? 0) + 4_321 * (5_000 + 10_000));
});

// ---------------------------------------------------------------------------------------------
// The OpenAPI document.

type Schema = Record<string, unknown>;
const doc = OPENAPI_DOCUMENT as unknown as {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>
  >;
  components: { schemas: Record<string, Schema> };
};

/** The subset of JSON Schema the document uses; returns the first mismatch, or null. */
function mismatch(schema: Schema, value: unknown, at = '$'): string | null {
  if (typeof schema['$ref'] === 'string') {
    const name = schema['$ref'].replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    return target === undefined ? `${at}: no schema ${name}` : mismatch(target, value, at);
  }
  if ('const' in schema && value !== schema['const']) return `${at}: not ${JSON.stringify(schema['const'])}`;
  if (Array.isArray(schema['enum']) && !schema['enum'].includes(value)) return `${at}: not in enum`;
  const types = schema['type'] === undefined ? [] : ([] as unknown[]).concat(schema['type']);
  if (types.length > 0) {
    const kind =
      value === null
        ? 'null'
        : Array.isArray(value)
          ? 'array'
          : Number.isInteger(value)
            ? 'integer'
            : typeof value;
    if (!types.includes(kind) && !(kind === 'integer' && types.includes('number')))
      return `${at}: ${kind}, not ${types.join('|')}`;
  }
  if (schema['format'] === 'date-time' && typeof value === 'string' && !Number.isFinite(Date.parse(value)))
    return `${at}: not a date-time`;
  if (Array.isArray(value) && schema['items'] !== undefined) {
    for (const [i, v] of value.entries()) {
      const m = mismatch(schema['items'] as Schema, v, `${at}[${i}]`);
      if (m !== null) return m;
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of (schema['required'] as string[] | undefined) ?? [])
      if (!(r in obj)) return `${at}: no ${r}`;
    const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      const s = props[k] ?? (schema['additionalProperties'] as Schema | undefined);
      if (s === undefined) {
        if (schema['properties'] !== undefined) return `${at}.${k}: not in the schema`;
        continue;
      }
      const m = mismatch(s, v, `${at}.${k}`);
      if (m !== null) return m;
    }
  }
  return null;
}

void test('OpenAPI: GET /openapi.json is the document, every route served is in it, and answers match its schemas', async () => {
  assert.ok(projector);
  const served = await getJson<unknown>('/openapi.json');
  assert.equal(served.status, 200);
  assert.deepEqual(served.body, JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  assert.equal(
    doc.paths !== undefined && (served.body as { openapi: string }).openapi.startsWith('3.'),
    true,
  );

  const routes = projector.routes().filter((r) => r.method !== 'HEAD');
  assert.ok(routes.length >= 13, `routes: ${JSON.stringify(routes)}`);
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    assert.ok(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${r.url} is in the document`);
  }
  // …and nothing is documented that is not served.
  for (const [path, methods] of Object.entries(doc.paths))
    for (const method of Object.keys(methods))
      assert.ok(
        routes.some((r) => r.url.replace(/:(\w+)/g, '{$1}') === path && r.method.toLowerCase() === method),
        `${method} ${path} is served`,
      );

  const calls: Array<[docPath: string, url: string]> = [
    ['/v1/pools', '/v1/pools'],
    ['/v1/pools/{poolId}', '/v1/pools/eu:mini'],
    ['/v1/pools/{poolId}', '/v1/pools/eu:none'],
    ['/v1/pools/{poolId}/history', `/v1/pools/eu:mini/history?${range()}`],
    ['/v1/pools/{poolId}/history', '/v1/pools/eu:mini/history?from=x'],
    ['/v1/stats/jackpots', `/v1/stats/jackpots?${range()}`],
    ['/v1/stats/games', `/v1/stats/games?${range()}`],
    ['/v1/stats/games', '/v1/stats/games?limit=0'],
    ['/v1/wins/recent', '/v1/wins/recent'],
    ['/v1/stats/throughput', '/v1/stats/throughput'],
    ['/healthz', '/healthz'],
    ['/readyz', '/readyz'],
  ];
  for (const [docPath, url] of calls) {
    const res = await getJson<unknown>(url);
    const response = doc.paths[docPath]?.['get']?.responses[String(res.status)];
    assert.ok(response, `${url}: status ${res.status} is documented`);
    const schema = response.content?.['application/json']?.schema;
    assert.ok(schema, `${url}: a JSON schema for ${res.status}`);
    assert.equal(mismatch(schema, res.body), null, url);
  }
  // The validator can fail: a wrong body is caught.
  assert.notEqual(mismatch({ $ref: '#/components/schemas/Pool' }, { poolId: 'x' }), null);
  assert.notEqual(mismatch(doc.components.schemas['Win'] ?? {}, { winId: 1 }), null);
});
