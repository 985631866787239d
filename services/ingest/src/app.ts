/**
 * The gateway's HTTP routes, built from injected adapters so tests start it on port 0 with a real
 * broker and database, or with fakes.
 *
 * `POST /v1/wagers`, in this order: key (401) → body shape and size (413, 415, 400) → rate limit
 * (429) → per-item validation → Kafka. 202 is sent only after Kafka acknowledged (acks = all)
 * every accepted wager. When any send fails the answer is 503 and nothing is reported accepted,
 * although some of the wagers may be in Kafka: the client retries the same request, which is safe
 * because the aggregator counts each eventId once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { verifyApiKey, type ApiKeyIdentity } from '../../../shared/src/api-keys.js';
import { isRetryableDbError, retryDb, withClient } from '../../../shared/src/db.js';
import { validateJackpotConfig } from '../../../shared/src/domain/jackpot-config.js';
import { validateWinClaim } from '../../../shared/src/domain/win-claim.js';
import { listFxRates, putFxRate, readMeters } from '../../../shared/src/meters.js';
import type { PoolUpdate } from '../../../shared/src/pool-store.js';
import { claimPoolWin } from '../../../shared/src/wins.js';
import { AppError, toError } from '../../../shared/src/errors.js';
import { createHttpServer, sendError } from '../../../shared/src/http.js';
import { getJackpot, putJackpot } from '../../../shared/src/jackpot-store.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { WagerProducer } from '../../../shared/src/producer.js';
import type { Telemetry } from '../../../shared/src/telemetry.js';
import { bearerToken, createKeyVerifier } from './auth.js';
import { MAX_BODY_BYTES, MAX_WAGERS_PER_REQUEST, type RateLimitConfig } from './config.js';
import { createIngestMetrics } from './metrics.js';
import { createRateLimiter } from './rate-limiter.js';
import { checkWagers, wagerItems } from './wager-request.js';

export interface IngestAppDeps {
  /** Postgres: API keys and jackpot configuration. */
  readonly db: pg.Pool;
  readonly producer: WagerProducer;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly rateLimit: RateLimitConfig;
  readonly keyCacheTtlSeconds: number;
  /** The clock, epoch ms: wager timestamps are checked against it. */
  readonly now?: () => number;
  /**
   * Told after a claimed win is committed, to publish the pool's new state and the award (outbox
   * relay). Best effort and not awaited by the request: Postgres already holds the win.
   */
  readonly onWin?: (update: PoolUpdate | null) => void;
}

export interface IngestApp {
  readonly app: FastifyInstance;
  /**
   * Starts refusing API requests (503 `shutting_down`, and `/readyz` says not ready) and resolves
   * when every request in flight has been answered, or after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Closes the HTTP server and the key cache. The producer and the pool belong to the caller. */
  close(): Promise<void>;
}

export function createIngestApp(deps: IngestAppDeps): IngestApp {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const { db, producer } = deps;
  const metrics = createIngestMetrics(deps.telemetry.meter);
  const limiter = createRateLimiter(deps.rateLimit);
  const keys = createKeyVerifier({
    lookup: (key) => verifyApiKey(db, key),
    ttlSeconds: deps.keyCacheTtlSeconds,
  });
  const identities = new WeakMap<FastifyRequest, ApiKeyIdentity>();

  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const app = createHttpServer({
    logger: log,
    telemetry: deps.telemetry,
    bodyLimit: MAX_BODY_BYTES,
    ready: async () => {
      if (draining) return 'shutting down';
      if (!producer.isConnected()) return 'Kafka producer not connected';
      try {
        await db.query('SELECT 1');
      } catch (e) {
        return `database unreachable: ${toError(e).message}`;
      }
      return null;
    },
  });

  // Fastify parses text/plain by default; the contract takes JSON only, so anything else is 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', (req, reply, done) => {
    inFlight++;
    reply.raw.once('close', () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
    if (draining && req.url.startsWith('/v1/')) {
      void sendError(
        reply.header('connection', 'close'),
        503,
        'shutting_down',
        'this gateway is shutting down; retry on another',
      );
      return;
    }
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    const attributes = {
      'http.request.method': req.method,
      'http.route': req.routeOptions.url ?? 'unmatched',
      'http.response.status_code': reply.statusCode,
    };
    metrics.requests.add(1, attributes);
    metrics.requestDuration.record(reply.elapsedTime / 1000, attributes);
    done();
  });

  /** A database failure the client may retry is 503; anything else is a bug and goes to the 500 handler. */
  function dbFailure(reply: FastifyReply, e: unknown): FastifyReply {
    const err = toError(e);
    if (isRetryableDbError(err) || (err instanceof AppError && err.code === 'DB_UNAVAILABLE')) {
      log.warn({ err }, 'database unavailable');
      return sendError(reply, 503, 'db_unavailable', 'the database is unavailable; retry later');
    }
    throw err;
  }

  /**
   * Every `/v1` route needs a key; admin routes an admin key. Runs before the body is read, so an
   * unauthenticated client never makes us parse a megabyte. Game and admin keys may both send
   * wagers (an operator's test wager needs no second key).
   */
  const requireKey =
    (role: 'any' | 'admin') =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const key = bearerToken(req.headers.authorization);
      if (key === null)
        return sendError(reply, 401, 'unauthorized', 'missing Authorization: Bearer <api key>');
      let identity: ApiKeyIdentity | null;
      try {
        identity = await keys.verify(key);
      } catch (e) {
        return dbFailure(reply, e);
      }
      if (identity === null) return sendError(reply, 401, 'unauthorized', 'unknown or revoked API key');
      if (role === 'admin' && identity.role !== 'admin') {
        return sendError(reply, 403, 'forbidden', 'this endpoint needs an admin key');
      }
      identities.set(req, identity);
      return undefined;
    };

  app.post('/v1/wagers', { onRequest: requireKey('any') }, async (req, reply) => {
    const identity = identities.get(req);
    if (identity === undefined) throw new Error('authenticated request without identity');

    const shape = wagerItems(req.body, MAX_WAGERS_PER_REQUEST);
    if (!shape.ok) return sendError(reply, shape.status, shape.code, shape.message);

    // Every item counts, valid or not: a client sending garbage is throttled like any other.
    const n = shape.items.length;
    const decision = limiter.take(identity.keyId, n, now());
    if (!decision.allowed) {
      metrics.wagersThrottled.add(n);
      if (decision.retryAfterSeconds === null) {
        return sendError(
          reply,
          413,
          'too_many_wagers',
          `this key may send at most ${deps.rateLimit.burst} wagers at once`,
        );
      }
      reply.header('retry-after', String(decision.retryAfterSeconds));
      return sendError(
        reply,
        429,
        'rate_limited',
        `rate limit of ${deps.rateLimit.perSecond} wagers/s (burst ${deps.rateLimit.burst}) reached for this key; retry after ${decision.retryAfterSeconds} s`,
      );
    }

    const { accepted, rejected } = checkWagers(shape.items, now());
    if (accepted.length === 0) {
      for (const r of rejected) metrics.wagersRejected.add(1, { reason: r.code });
      const first = rejected[0];
      return sendError(
        reply,
        400,
        'invalid_wagers',
        n === 1 && first !== undefined ? first.message : `none of the ${n} wagers is valid`,
        rejected,
      );
    }

    if (!producer.isConnected()) {
      return sendError(
        reply,
        503,
        'kafka_unavailable',
        'Kafka is unavailable; nothing was accepted, retry later',
      );
    }
    const sends = await Promise.allSettled(accepted.map((w) => producer.send(w)));
    const failure = sends.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined) {
      log.warn(
        { err: toError(failure.reason), keyId: identity.keyId, wagers: accepted.length },
        'Kafka did not take a request',
      );
      return sendError(
        reply,
        503,
        'kafka_unavailable',
        'Kafka did not acknowledge every wager, so none is reported accepted; retrying the same request is safe (wagers are counted once per eventId)',
      );
    }
    metrics.wagersAccepted.add(accepted.length);
    for (const r of rejected) metrics.wagersRejected.add(1, { reason: r.code });
    return reply.code(202).send({ accepted: accepted.length, rejected });
  });

  /**
   * Claimed wins go straight to Postgres (shared/src/wins.ts), never through the wager topic, so
   * they never wait behind the wager backlog.
   */
  app.post('/v1/wins', { onRequest: requireKey('any') }, async (req, reply) => {
    const checked = validateWinClaim(req.body);
    if (!checked.ok) return sendError(reply, 400, 'invalid_claim', 'the win claim is invalid', checked.issues);
    const { claim } = checked;
    try {
      const out = await retryDb(() => claimPoolWin(db, claim), { attempts: 4 });
      switch (out.kind) {
        case 'won':
          metrics.wins.add(1);
          log.info({ claimId: claim.claimId, poolId: claim.poolId, cycle: out.answer.cycle, amountMinor: out.answer.amountMinor }, 'win paid');
          deps.onWin?.(out.update);
          return reply.code(200).send(out.answer);
        case 'replayed':
          return reply.code(200).send(out.answer);
        case 'claim_id_reused':
          return sendError(reply, 409, 'claim_id_reused', `claimId ${JSON.stringify(claim.claimId)} already won on pool ${JSON.stringify(out.poolId)}`);
        case 'pool_not_found':
          return sendError(reply, 404, 'pool_not_found', `no pool ${JSON.stringify(claim.poolId)}`);
        case 'game_not_linked':
          return sendError(reply, 409, 'game_not_linked', `game ${JSON.stringify(claim.gameId)} is not linked to jackpot ${JSON.stringify(out.jackpotId)}`);
      }
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.put<{ Params: { jackpotId: string } }>(
    '/v1/admin/jackpots/:jackpotId',
    { onRequest: requireKey('admin') },
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
      const identity = identities.get(req);
      const actor = identity === undefined ? 'unknown' : `${identity.keyId} (${identity.name})`;
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
    { onRequest: requireKey('admin') },
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

  app.get('/v1/admin/meters', { onRequest: requireKey('admin') }, async (_req, reply) => {
    try {
      return reply.code(200).send(await readMeters(db, null));
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.get<{ Params: { poolId: string } }>('/v1/admin/pools/:poolId/meters', { onRequest: requireKey('admin') }, async (req, reply) => {
    try {
      const [meters] = await readMeters(db, req.params.poolId);
      if (meters === undefined) return sendError(reply, 404, 'pool_not_found', `no pool ${JSON.stringify(req.params.poolId)}`);
      return reply.code(200).send(meters);
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.get('/v1/admin/fx-rates', { onRequest: requireKey('admin') }, async (_req, reply) => {
    try {
      return reply.code(200).send(await listFxRates(db));
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  app.put<{ Params: { from: string; to: string } }>('/v1/admin/fx-rates/:from/:to', { onRequest: requireKey('admin') }, async (req, reply) => {
    const { from, to } = req.params;
    const rate = (req.body as { rateMicro?: unknown } | null)?.rateMicro;
    const details = [
      ...(/^[A-Z]{3}$/.test(from) ? [] : [{ path: 'from', code: 'invalid_value', message: 'from must be an ISO 4217 code' }]),
      ...(/^[A-Z]{3}$/.test(to) && to !== from ? [] : [{ path: 'to', code: 'invalid_value', message: 'to must be an ISO 4217 code other than from' }]),
      ...(typeof rate === 'number' && Number.isSafeInteger(rate) && rate > 0 && rate <= 1_000_000_000_000
        ? []
        : [{ path: 'rateMicro', code: 'invalid_value', message: 'rateMicro must be an integer from 1 to 1e12 (millionths of a minor unit)' }]),
    ];
    if (details.length > 0 || typeof rate !== 'number') return sendError(reply, 400, 'invalid_fx_rate', 'the rate is invalid', details);
    const identity = identities.get(req);
    try {
      const stored = await putFxRate(db, from, to, rate, identity === undefined ? 'unknown' : `${identity.keyId} (${identity.name})`);
      log.info({ from, to, rateMicro: rate }, 'fx rate set');
      return reply.code(200).send(stored);
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  return {
    app,
    async drain(timeoutMs) {
      draining = true;
      if (inFlight === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        onIdle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      onIdle = undefined;
    },
    async close() {
      await app.close();
      keys.close();
    },
  };
}
