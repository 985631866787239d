/**
 * The read API's OpenAPI 3.1 document, served at `GET /openapi.json`. Written by hand, next to the
 * routes: the contract's endpoints exactly as docs/contract.md gives them, and the additions.
 * tests/integration/projector-read-api.test.ts checks that every registered route is in it and
 * that answers match its schemas.
 *
 * Amounts are JSON integers written exactly (never through a float): a client that parses JSON
 * into doubles loses precision past 2^53 (about 9e15), which micro-unit sums can pass.
 */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_GAMES_LIMIT, DEFAULT_SPAN_MS, HOUR_MS, MAX_GAMES_LIMIT, MAX_SPAN_MS } from './query.js';

type Schema = Readonly<Record<string, unknown>>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string): Schema => ({
  description,
  content: { 'application/json': { schema } },
});
const error = (description: string): Schema => json(ref('Error'), description);
const integer: Schema = { type: 'integer' };
const dateTime: Schema = { type: 'string', format: 'date-time' };

const object = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({
  type: 'object',
  required,
  properties,
});

const activity = {
  wagers: { ...integer, description: 'Wagers applied (each counted once for its jackpot)' },
  wageredMinor: { ...integer, description: 'Amount wagered, minor units of the currency' },
  contributionMicro: { ...integer, description: 'Contributions to the pools, micro-units (1e-6 minor)' },
  wins: { ...integer, description: 'Wins paid' },
  wonMinor: { ...integer, description: 'Amount won, minor units' },
};

const hours = (ms: number): number => ms / HOUR_MS;
const rangeParams: Schema[] = [
  {
    name: 'from',
    in: 'query',
    description: `Start of the range, inclusive: an RFC 3339 timestamp with its offset (\`+\` written \`%2B\`) or a date (midnight UTC). Default: \`to\` minus ${hours(DEFAULT_SPAN_MS)} hours.`,
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    description: `End of the range, exclusive, same format. Default: the end of the current UTC hour (or \`from\` plus ${hours(DEFAULT_SPAN_MS)} hours). At most ${hours(MAX_SPAN_MS) / 24} days after \`from\`.`,
    schema: { type: 'string' },
  },
];

const badQuery = error('A query parameter is invalid: code `invalid_query`, `details.param` names it');
const notReady = error(
  'Not ready (code `not_ready`: the initial load is not done) or the database is unavailable (`database_unavailable`, with Retry-After)',
);

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Jackpot read API (projector)',
    version: '1',
    description:
      'Live pool projections, history and statistics. The endpoints of docs/contract.md (`/v1/pools`, `/v1/pools/{poolId}`, `/v1/pools/stream`, `/`, `/healthz`, `/readyz`, `/metrics`) behave exactly as it says; the others are additions. Errors are `{"error": {"code", "message", "details"?}}`.',
  },
  paths: {
    '/v1/pools': {
      get: {
        summary: 'Every pool, sorted by poolId (contract)',
        responses: {
          '200': json({ type: 'array', items: ref('Pool') }, 'Every pool'),
          '503': notReady,
        },
      },
    },
    '/v1/pools/{poolId}': {
      get: {
        summary: 'One pool (contract)',
        parameters: [{ name: 'poolId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': json(ref('Pool'), 'The pool'),
          '404': error('No such pool (code `pool_not_found`)'),
          '503': notReady,
        },
      },
    },
    '/v1/pools/stream': {
      get: {
        summary: 'Server-Sent Events: every pool on connect, then one `pool` event per change (contract)',
        description:
          'Each event is `id: {poolId}@{version}`, `event: pool`, `data:` a Pool as JSON. A comment line every 15 s keeps the connection open.',
        responses: {
          '200': {
            description: 'The stream',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '503': error('Too many streams (code `too_many_streams`, with Retry-After) or not ready'),
        },
      },
    },
    '/v1/pools/{poolId}/history': {
      get: {
        summary: 'A pool’s activity per UTC hour in [from, to)',
        description:
          'Only hours with wagers or wins have an entry. A day already dropped from the ledger (retention) is one entry at its midnight with `archived: true` and `wageredMinor: null`. May lag the pool by about a second.',
        parameters: [
          { name: 'poolId', in: 'path', required: true, schema: { type: 'string' } },
          ...rangeParams,
        ],
        responses: {
          '200': json(ref('PoolHistory'), 'The hours'),
          '400': badQuery,
          '404': error('No such pool (code `pool_not_found`)'),
          '503': notReady,
        },
      },
    },
    '/v1/stats/jackpots': {
      get: {
        summary: 'Activity per jackpot in [from, to), every jackpot, by jackpotId',
        parameters: rangeParams,
        responses: {
          '200': json(ref('JackpotStats'), 'Per jackpot'),
          '400': badQuery,
          '503': notReady,
        },
      },
    },
    '/v1/stats/games': {
      get: {
        summary: 'Activity per game in [from, to), most wagered first',
        description: 'Days already dropped from the ledger have no game and are not counted here.',
        parameters: [
          ...rangeParams,
          {
            name: 'jackpotId',
            in: 'query',
            description: 'Only the games of this jackpot',
            schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
          },
          {
            name: 'limit',
            in: 'query',
            description: `Games at most, default ${DEFAULT_GAMES_LIMIT}`,
            schema: { type: 'integer', minimum: 1, maximum: MAX_GAMES_LIMIT },
          },
        ],
        responses: {
          '200': json(ref('GameStats'), 'Per game'),
          '400': badQuery,
          '503': notReady,
        },
      },
    },
    '/v1/wins/recent': {
      get: {
        summary: 'The latest 20 wins, newest first (no player id)',
        responses: {
          '200': json({ type: 'array', items: ref('Win') }, 'The wins'),
          '503': notReady,
        },
      },
    },
    '/v1/stats/throughput': {
      get: {
        summary:
          'Wagers applied per minute, the aggregators’ lag and each pool’s contributions per minute, in 15 s buckets over 15 minutes',
        responses: { '200': json(ref('Throughput'), 'The charts’ data') },
      },
    },
    '/': {
      get: {
        summary: 'The live jackpot page (contract)',
        responses: {
          '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Alive (contract)',
        responses: { '200': json(object({ status: { const: 'ok' } }), 'Alive') },
      },
    },
    '/readyz': {
      get: {
        summary: 'Ready for traffic (contract)',
        responses: {
          '200': json(object({ status: { const: 'ready' } }), 'Ready'),
          '503': json(object({ status: { const: 'not ready' }, reason: { type: 'string' } }), 'Not ready'),
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus text format (contract)',
        responses: {
          '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1') },
      },
    },
  },
  components: {
    schemas: {
      Error: object({
        error: object(
          {
            code: { type: 'string' },
            message: { type: 'string' },
            details: {},
          },
          ['code', 'message'],
        ),
      }),
      Pool: object({
        poolId: { type: 'string' },
        jackpotId: { type: 'string' },
        tier: { type: 'string' },
        currency: { type: 'string' },
        amountMinor: { ...integer, description: 'floor(micro / 1e6), minor units' },
        cycle: integer,
        version: integer,
        updatedAt: dateTime,
      }),
      PoolHistory: object({
        poolId: { type: 'string' },
        jackpotId: { type: 'string' },
        currency: { type: 'string' },
        from: dateTime,
        to: dateTime,
        hours: {
          type: 'array',
          items: object({
            hour: dateTime,
            ...activity,
            wageredMinor: { type: ['integer', 'null'], description: 'null for an archived day' },
            archived: { type: 'boolean' },
          }),
        },
      }),
      JackpotStats: object({
        from: dateTime,
        to: dateTime,
        jackpots: {
          type: 'array',
          items: object({
            jackpotId: { type: 'string' },
            currency: { type: 'string' },
            pools: integer,
            ...activity,
          }),
        },
      }),
      GameStats: object({
        from: dateTime,
        to: dateTime,
        games: {
          type: 'array',
          items: object({
            gameId: { type: 'string' },
            jackpotId: { type: 'string' },
            currency: { type: 'string' },
            ...activity,
          }),
        },
      }),
      Win: object({
        winId: { type: 'string' },
        poolId: { type: 'string' },
        jackpotId: { type: 'string' },
        tier: { type: 'string' },
        currency: { type: 'string' },
        cycle: integer,
        amountMinor: integer,
        kind: { enum: ['claim', 'mystery'] },
        gameId: { type: 'string' },
        wonAt: dateTime,
      }),
      Throughput: object({
        bucketSeconds: integer,
        buckets: {
          type: 'array',
          items: object({
            at: dateTime,
            wagersPerMinute: { type: ['number', 'null'] },
            lagMessages: { type: ['number', 'null'] },
            contributionsMinorPerMinute: { type: 'object', additionalProperties: { type: 'number' } },
          }),
        },
        wagersPerSecond: { type: ['number', 'null'] },
        lagMessages: { type: ['number', 'null'] },
        sampledAt: { type: ['string', 'null'] },
      }),
    },
  },
} as const;

export function registerOpenApiRoute(app: FastifyInstance): void {
  const body = Buffer.from(JSON.stringify(OPENAPI_DOCUMENT), 'utf8');
  app.get('/openapi.json', (_req, reply) => {
    void reply.type('application/json; charset=utf-8').send(body);
  });
}
