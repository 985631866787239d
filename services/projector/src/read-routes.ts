/**
 * The read API beyond the contract's minimum (docs in openapi.ts):
 * - `GET /v1/pools/{poolId}/history?from=&to=`: the pool's activity per UTC hour (cold tier);
 * - `GET /v1/stats/jackpots?from=&to=`: activity per jackpot (warm tier);
 * - `GET /v1/stats/games?from=&to=&jackpotId=&limit=`: activity per game, most wagered first (warm).
 * All from jackpot.pool_hourly (migration 0008), computed on a miss and cached as the bytes sent;
 * a pool change makes the answers it touches expire within a second (cache-policy.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../../../shared/src/http.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { CacheTier, HotTierCounts } from './cache.js';
import { cacheKeys } from './cache-policy.js';
import type { ExecuteSql } from './postgres-source.js';
import {
  DEFAULT_GAMES_LIMIT,
  MAX_GAMES_LIMIT,
  parseJackpotId,
  parseLimit,
  parseRange,
  type Parsed,
} from './query.js';
import { selectPoolHistory, type PoolHistoryRow } from './sql/select-pool-history.js';
import {
  selectGameStats,
  selectJackpotStats,
  type GameStatsRow,
  type JackpotStatsRow,
} from './sql/select-activity-stats.js';
import { gameStatsJson, jackpotStatsJson, poolHistoryJson } from './stats-json.js';
import type { PoolStore } from './store.js';

export interface ReadRoutesOptions {
  readonly store: PoolStore;
  readonly hot: HotTierCounts;
  readonly warm: CacheTier;
  readonly cold: CacheTier;
  readonly executeSql: ExecuteSql;
  readonly logger: Logger;
  /** Null once the initial load is done; before that, history answers 503 (pools unknown). */
  readonly notServingReason: () => string | null;
  readonly now?: () => number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

type Query = Record<string, unknown>;

/** Sends the 400 of a bad parameter and returns true, or returns false for a good one. */
function refused<T>(reply: FastifyReply, parsed: Parsed<T>): parsed is Extract<Parsed<T>, { ok: false }> {
  if (parsed.ok) return false;
  void sendError(reply, 400, 'invalid_query', parsed.message, { param: parsed.param });
  return true;
}

export function registerReadRoutes(app: FastifyInstance, opts: ReadRoutesOptions): void {
  const now = opts.now ?? Date.now;

  const send = async (
    reply: FastifyReply,
    what: string,
    body: () => Promise<Buffer>,
  ): Promise<FastifyReply> => {
    try {
      return await reply
        .type(JSON_TYPE)
        .header('cache-control', 'no-cache')
        .send(await body());
    } catch (e) {
      opts.logger.warn({ err: e, what }, 'reading from Postgres failed');
      return sendError(
        reply.header('retry-after', '2'),
        503,
        'database_unavailable',
        `${what} cannot be read right now`,
      );
    }
  };

  app.get<{ Params: { poolId: string }; Querystring: Query }>(
    '/v1/pools/:poolId/history',
    async (req, reply) => {
      const reason = opts.notServingReason();
      if (reason !== null) return sendError(reply, 503, 'not_ready', reason);
      const range = parseRange(req.query, now());
      if (refused(reply, range)) return reply;
      const entry = opts.store.get(req.params.poolId);
      if (entry === undefined) {
        opts.hot.misses++;
        return sendError(reply, 404, 'pool_not_found', `no pool ${req.params.poolId}`);
      }
      opts.hot.hits++;
      const { view } = entry;
      const { fromMs, toMs } = range.value;
      return send(reply, 'pool history', () =>
        opts.cold.getOrLoad(cacheKeys.history(view.poolId, fromMs, toMs), async () => {
          const rows = await opts.executeSql<PoolHistoryRow>(selectPoolHistory(view.poolId, fromMs, toMs));
          return Buffer.from(poolHistoryJson(view, range.value, rows), 'utf8');
        }),
      );
    },
  );

  app.get<{ Querystring: Query }>('/v1/stats/jackpots', async (req, reply) => {
    const range = parseRange(req.query, now());
    if (refused(reply, range)) return reply;
    const { fromMs, toMs } = range.value;
    return send(reply, 'jackpot statistics', () =>
      opts.warm.getOrLoad(cacheKeys.jackpotStats(fromMs, toMs), async () => {
        const rows = await opts.executeSql<JackpotStatsRow>(selectJackpotStats(fromMs, toMs));
        return Buffer.from(jackpotStatsJson(range.value, rows), 'utf8');
      }),
    );
  });

  app.get<{ Querystring: Query }>('/v1/stats/games', async (req, reply) => {
    const range = parseRange(req.query, now());
    if (refused(reply, range)) return reply;
    const jackpotId = parseJackpotId(req.query);
    if (refused(reply, jackpotId)) return reply;
    const limit = parseLimit(req.query, DEFAULT_GAMES_LIMIT, MAX_GAMES_LIMIT);
    if (refused(reply, limit)) return reply;
    const { fromMs, toMs } = range.value;
    return send(reply, 'game statistics', () =>
      opts.warm.getOrLoad(cacheKeys.gameStats(jackpotId.value, fromMs, toMs, limit.value), async () => {
        const rows = await opts.executeSql<GameStatsRow>(
          selectGameStats(fromMs, toMs, jackpotId.value, limit.value),
        );
        return Buffer.from(gameStatsJson(range.value, rows), 'utf8');
      }),
    );
  });
}
