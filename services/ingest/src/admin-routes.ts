/**
 * The gateway's admin routes (admin keys only): jackpot configuration, meters and fx rates. Each
 * change is audited with the key that made it; a database the client may retry is 503.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { retryDb, withClient } from '../../../shared/src/db.js';
import { isValidFxRateMicro, MAX_FX_RATE_MICRO } from '../../../shared/src/domain/fx.js';
import { validateJackpotConfig } from '../../../shared/src/domain/jackpot-config.js';
import { sendError } from '../../../shared/src/http.js';
import { getJackpot, putJackpot } from '../../../shared/src/jackpot-store.js';
import type { Logger } from '../../../shared/src/logger.js';
import { listFxRates, putFxRate, readMeters } from '../../../shared/src/meters.js';

export interface AdminRouteDeps {
  readonly db: pg.Pool;
  readonly log: Logger;
  readonly now: () => number;
  /** The onRequest hook that admits admin keys only. */
  readonly requireAdmin: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
  /** Who made a change, for the audit: the key's id and name. */
  readonly actorOf: (req: FastifyRequest) => string;
  readonly dbFailure: (reply: FastifyReply, e: unknown) => FastifyReply;
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { db, log, now, requireAdmin, actorOf, dbFailure } = deps;

  app.put<{ Params: { jackpotId: string } }>(
    '/v1/admin/jackpots/:jackpotId',
    { onRequest: requireAdmin },
    async (req, reply) => {
      const checked = validateJackpotConfig(req.params.jackpotId, req.body);
      if (!checked.ok) {
        return sendError(
          reply,
          400,
          'invalid_configuration',
          'the jackpot configuration is invalid',
          checked.details,
        );
      }
      const actor = actorOf(req);
      try {
        const result = await retryDb(
          () =>
            withClient(db, (client) => putJackpot(client, checked.config, { now: new Date(now()), actor })),
          { attempts: 4 },
        );
        if (!result.ok) return sendError(reply, 409, result.code, result.message, result.details);
        log.info(
          { jackpotId: checked.config.jackpotId, created: result.created, actor },
          'jackpot configured',
        );
        return reply.code(200).send(result.jackpot);
      } catch (e) {
        return dbFailure(reply, e);
      }
    },
  );

  app.get<{ Params: { jackpotId: string } }>(
    '/v1/admin/jackpots/:jackpotId',
    { onRequest: requireAdmin },
    async (req, reply) => {
      try {
        const jackpot = await withClient(db, (client) => getJackpot(client, req.params.jackpotId));
        if (jackpot === null)
          return sendError(reply, 404, 'not_found', `no jackpot ${JSON.stringify(req.params.jackpotId)}`);
        return reply.code(200).send(jackpot);
      } catch (e) {
        return dbFailure(reply, e);
      }
    },
  );

  app.get('/v1/admin/meters', { onRequest: requireAdmin }, async (_req, reply) => {
    try {
      return reply.code(200).send(await readMeters(db, null));
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.get<{ Params: { poolId: string } }>(
    '/v1/admin/pools/:poolId/meters',
    { onRequest: requireAdmin },
    async (req, reply) => {
      try {
        const [meters] = await readMeters(db, req.params.poolId);
        if (meters === undefined)
          return sendError(reply, 404, 'pool_not_found', `no pool ${JSON.stringify(req.params.poolId)}`);
        return reply.code(200).send(meters);
      } catch (e) {
        return dbFailure(reply, e);
      }
    },
  );

  app.get('/v1/admin/fx-rates', { onRequest: requireAdmin }, async (_req, reply) => {
    try {
      return reply.code(200).send(await listFxRates(db));
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.put<{ Params: { from: string; to: string } }>(
    '/v1/admin/fx-rates/:from/:to',
    { onRequest: requireAdmin },
    async (req, reply) => {
      const { from, to } = req.params;
      const rate = (req.body as { rateMicro?: unknown } | null)?.rateMicro;
      const details = [
        ...(/^[A-Z]{3}$/.test(from)
          ? []
          : [{ path: 'from', code: 'invalid_value', message: 'from must be an ISO 4217 code' }]),
        ...(/^[A-Z]{3}$/.test(to) && to !== from
          ? []
          : [{ path: 'to', code: 'invalid_value', message: 'to must be an ISO 4217 code other than from' }]),
        ...(isValidFxRateMicro(rate)
          ? []
          : [
              {
                path: 'rateMicro',
                code: 'invalid_value',
                message: `rateMicro must be an integer from 1 to ${MAX_FX_RATE_MICRO} (millionths of a minor unit)`,
              },
            ]),
      ];
      if (details.length > 0 || typeof rate !== 'number')
        return sendError(reply, 400, 'invalid_fx_rate', 'the rate is invalid', details);
      try {
        const stored = await putFxRate(db, from, to, rate, actorOf(req));
        log.info({ from, to, rateMicro: rate }, 'fx rate set');
        return reply.code(200).send(stored);
      } catch (e) {
        return dbFailure(reply, e);
      }
    },
  );
}
