/**
 * The gateway's HTTP routes, built from injected adapters so tests start it on port 0 with a real
 * broker and database, or with fakes.
 *
 * `POST /v1/wagers`, in this order: memory pressure (503 `overloaded` from `shed`) → key (401, 429
 * for an address with too many failed keys; 403 for an admin key) → body shape and size (413, 415,
 * 400) → rate limit (429) → per-item validation and the key's scope → room in the producer's
 * bounded buffer (503 `overloaded`) → Kafka. Each wager is reported as Kafka answered it: `accepted` counts the
 * wagers Kafka acknowledged (acks = all); one it did not acknowledge is listed in `rejected` with
 * `kafka_unavailable` (it may or may not be in Kafka), and the answer is 503 only when Kafka
 * acknowledged none. The client re-sends what was not accepted, with the same eventIds; the
 * aggregator counts each eventId once, so a wager that did reach Kafka is not counted twice.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { keyCoversJackpot, verifyApiKey, type ApiKeyIdentity } from '../../../shared/src/api-keys.js';
import { fromDbError, retryDb } from '../../../shared/src/db.js';
import { validateWinClaim } from '../../../shared/src/domain/win-claim.js';
import type { PoolUpdateMessage } from '../../../shared/src/messages/pool-update.js';
import { claimPoolWin } from '../../../shared/src/wins.js';
import { isRetryable, toError } from '../../../shared/src/errors.js';
import { createHttpServer, sendError, type HttpLimits } from '../../../shared/src/http.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { MemoryPressure } from '../../../shared/src/memory-budget.js';
import type { WagerProducer } from '../../../shared/src/producer.js';
import type { Telemetry } from '../../../shared/src/telemetry.js';
import { traceHttpServer } from '../../../shared/src/tracing.js';
import { registerAdminRoutes } from './admin-routes.js';
import { createAuthenticator, type AuthResult } from './auth.js';
import { MAX_BODY_BYTES, MAX_WAGERS_PER_REQUEST, type AuthConfig, type RateLimitConfig } from './config.js';
import { createGameDirectory } from './game-directory.js';
import { createIngestMetrics } from './metrics.js';
import { createRateLimiter } from './rate-limiter.js';
import { checkWagers, mergeRejected, wagerItems, type RejectedItem } from './wager-request.js';

/**
 * How long the game → jackpot links read for scoped keys are reused: 3 s. One small query per 3 s
 * per gateway while scoped keys send wagers; a newly linked game is judged by its old link for at
 * most that long (services/ingest/src/game-directory.ts).
 */
const GAME_DIRECTORY_TTL_MS = 3_000;

/**
 * Seconds a client waits before re-sending wagers refused for overload: 2, two memory samples, so
 * the level it meets again has been re-measured at least once.
 */
const OVERLOADED_RETRY_AFTER_S = 2;

/**
 * The jackpot of a pool id. Pool ids are `{jackpotId}:{tier}` (the contract; the schema checks
 * `pool_id = jackpot_id || ':' || tier`, and jackpot ids cannot contain ':'), so the scope of a
 * claim is known without a query and cannot change: a pool never moves to another jackpot.
 */
function jackpotOfPool(poolId: string): string {
  const colon = poolId.indexOf(':');
  return colon < 0 ? '' : poolId.slice(0, colon);
}

export interface IngestAppDeps {
  /** Postgres: API keys and jackpot configuration. */
  readonly db: pg.Pool;
  readonly producer: WagerProducer;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly rateLimit: RateLimitConfig;
  /** Claims per key. */
  readonly claimRateLimit: RateLimitConfig;
  readonly auth: AuthConfig;
  /** Connection cap and timeouts; default shared/src/http.ts's. */
  readonly httpLimits?: HttpLimits;
  /** The clock, epoch ms: wager timestamps are checked against it. */
  readonly now?: () => number;
  /**
   * Told after a claimed win is committed, to publish the pool's new state and the award (outbox
   * relay). Best effort and not awaited by the request: Postgres already holds the win.
   */
  readonly onWin?: (update: PoolUpdateMessage | null) => void;
  /**
   * The process's memory pressure (shared/src/memory-budget.ts): from `shed`, wagers are refused
   * with 503 `overloaded` before their body is read. Claims are always served.
   */
  readonly memory?: MemoryPressure;
}

export interface IngestApp {
  readonly app: FastifyInstance;
  /**
   * Starts refusing API requests (503 `shutting_down`, and `/readyz` says not ready) and resolves
   * when every request in flight has been answered, or after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Closes the HTTP server. The producer and the pool belong to the caller. */
  close(): Promise<void>;
}

export function createIngestApp(deps: IngestAppDeps): IngestApp {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const { db, producer } = deps;
  const metrics = createIngestMetrics(deps.telemetry.meter);
  const limiter = createRateLimiter(deps.rateLimit);
  const claimLimiter = createRateLimiter(deps.claimRateLimit);
  const auth = createAuthenticator({
    ...deps.auth,
    lookup: (key) => verifyApiKey(db, key),
    now,
    onLookup: (found) => metrics.keyLookups.add(1, { result: found ? 'found' : 'unknown' }),
    onRefused: (reason) => metrics.authRefused.add(1, { reason }),
  });
  const games = createGameDirectory({
    ttlMs: GAME_DIRECTORY_TTL_MS,
    now,
    load: async () => {
      const { rows } = await db.query<{ game_id: string; jackpot_id: string }>(
        'SELECT game_id, jackpot_id FROM jackpot.games',
      );
      return new Map(rows.map((r) => [r.game_id, r.jackpot_id]));
    },
  });
  const identities = new WeakMap<FastifyRequest, ApiKeyIdentity>();

  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const app = createHttpServer({
    logger: log,
    telemetry: deps.telemetry,
    bodyLimit: MAX_BODY_BYTES,
    ...(deps.httpLimits === undefined ? {} : { limits: deps.httpLimits }),
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

  // A server span per API request when tracing is on: the wagers sent carry its context to Kafka.
  const traces = traceHttpServer(app, { serviceName: 'ingest', prefix: '/v1/' });

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
    const err = fromDbError(e);
    if (isRetryable(err)) {
      log.warn({ err }, 'database unavailable');
      return sendError(reply, 503, 'db_unavailable', 'the database is unavailable; retry later');
    }
    throw toError(e);
  }

  /**
   * Every `/v1` route needs a key of its role: game keys for wagers and wins, admin keys for the
   * admin routes. Runs before the body is read, so an unauthenticated client never makes us parse
   * a megabyte.
   */
  const requireKey =
    (role: 'game' | 'admin') =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      let result: AuthResult;
      try {
        result = await auth.authenticate(req.headers.authorization, req.ip);
      } catch (e) {
        return dbFailure(reply, e);
      }
      if (!result.ok) {
        if (result.status === 429) {
          reply.header('retry-after', String(result.retryAfterSeconds));
          return sendError(reply, 429, 'too_many_auth_failures', result.message);
        }
        return sendError(reply, 401, 'unauthorized', result.message);
      }
      const { identity } = result;
      if (identity.role !== role) {
        return sendError(
          reply,
          403,
          'forbidden',
          `this endpoint needs ${role === 'admin' ? 'an admin' : 'a game'} key`,
        );
      }
      identities.set(req, identity);
      return undefined;
    };

  /**
   * Under memory pressure (`shed` or worse) wagers are refused before anything is read: no key
   * lookup, no body. Node discards the unread body as it arrives instead of buffering it.
   */
  const refuseWhenOverloaded = async (
    _req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    const level = deps.memory?.level() ?? 'ok';
    if (level !== 'shed' && level !== 'critical') return undefined;
    metrics.overloaded.add(1, { cause: 'memory' });
    return overloaded(
      reply,
      `this gateway is short of memory; re-send after ${OVERLOADED_RETRY_AFTER_S} s (the same eventIds are counted once)`,
    );
  };

  function overloaded(reply: FastifyReply, message: string): FastifyReply {
    reply.header('retry-after', String(OVERLOADED_RETRY_AFTER_S));
    return sendError(reply, 503, 'overloaded', message);
  }

  app.post('/v1/wagers', { onRequest: [refuseWhenOverloaded, requireKey('game')] }, async (req, reply) => {
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

    let inScope: ((gameId: string) => boolean) | undefined;
    const scope = identity.jackpots;
    if (scope !== 'all') {
      let jackpotOf: ReadonlyMap<string, string>;
      try {
        jackpotOf = await games.jackpotsByGame();
      } catch (e) {
        return dbFailure(reply, e);
      }
      // A game linked to no jackpot is not another jackpot's: it goes on, and the aggregator
      // dead-letters it as unknown_game (or books it, if it was linked a moment ago to a jackpot of
      // this key). Only a game known to belong to a jackpot outside the scope is refused here.
      inScope = (gameId) => {
        const jackpotId = jackpotOf.get(gameId);
        return jackpotId === undefined || scope.includes(jackpotId);
      };
    }
    const { accepted, rejected } = checkWagers(shape.items, now(), inScope);
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
        'Kafka is unavailable; nothing was sent, re-send the request later',
      );
    }
    // The producer's buffer is bounded; a request that does not fit whole is refused rather than
    // held here waiting for room (held requests would keep their bodies in memory unbounded).
    if (producer.room() < accepted.length) {
      metrics.overloaded.add(1, { cause: 'producer_buffer' });
      return overloaded(
        reply,
        `the gateway's Kafka buffer is full (Kafka is slower than the wagers offered); nothing was sent, re-send after ${OVERLOADED_RETRY_AFTER_S} s`,
      );
    }
    // Each wager is answered as Kafka answered it. The producer sends in batches, so one request's
    // wagers may travel in several produce requests, and some may be acknowledged while others fail.
    const sends = await Promise.allSettled(
      traces.run(req, () => accepted.map((a) => producer.send(a.wager))),
    );
    const unsent: RejectedItem[] = [];
    let firstError: unknown;
    sends.forEach((s, i) => {
      const item = accepted[i];
      if (s.status === 'fulfilled' || item === undefined) return;
      firstError ??= s.reason;
      unsent.push({
        index: item.index,
        code: 'kafka_unavailable',
        message: 'Kafka did not acknowledge this wager; re-send it (the same eventId is counted once)',
      });
    });
    const acknowledged = accepted.length - unsent.length;
    const all = mergeRejected(rejected, unsent);
    for (const r of all) metrics.wagersRejected.add(1, { reason: r.code });
    if (unsent.length > 0) {
      log.warn(
        { err: toError(firstError), keyId: identity.keyId, acknowledged, unacknowledged: unsent.length },
        'Kafka did not acknowledge every wager of a request',
      );
    }
    if (acknowledged === 0) {
      return sendError(
        reply,
        503,
        'kafka_unavailable',
        `Kafka acknowledged none of the ${accepted.length} valid wager(s); re-send them (the same eventIds are counted once, so one that did reach Kafka is not counted twice)`,
        all,
      );
    }
    metrics.wagersAccepted.add(acknowledged);
    return reply.code(202).send({ accepted: acknowledged, rejected: all });
  });

  /**
   * Claimed wins go straight to Postgres (shared/src/wins.ts), never through the wager topic, so
   * they never wait behind the wager backlog.
   */
  app.post('/v1/wins', { onRequest: requireKey('game') }, async (req, reply) => {
    const identity = identities.get(req);
    if (identity === undefined) throw new Error('authenticated request without identity');
    // Every claim counts, valid or not: a key probing pools is throttled like one claiming them.
    const decision = claimLimiter.take(identity.keyId, 1, now());
    if (!decision.allowed) {
      metrics.claimsThrottled.add(1);
      const seconds = decision.retryAfterSeconds ?? 1;
      reply.header('retry-after', String(seconds));
      return sendError(
        reply,
        429,
        'rate_limited',
        `claim rate limit of ${deps.claimRateLimit.perSecond}/s (burst ${deps.claimRateLimit.burst}) reached for this key; retry after ${seconds} s`,
      );
    }
    const checked = validateWinClaim(req.body);
    if (!checked.ok)
      return sendError(reply, 400, 'invalid_claim', 'the win claim is invalid', checked.issues);
    const { claim } = checked;
    // Before any query: a scoped key learns nothing about pools outside its scope, not even whether they exist.
    if (!keyCoversJackpot(identity, jackpotOfPool(claim.poolId))) {
      return sendError(
        reply,
        403,
        'pool_not_in_scope',
        `pool ${JSON.stringify(claim.poolId)} belongs to a jackpot outside this API key's scope`,
      );
    }
    try {
      const out = await retryDb(() => claimPoolWin(db, claim), { attempts: 4 });
      switch (out.kind) {
        case 'won':
          metrics.wins.add(1);
          log.info(
            {
              claimId: claim.claimId,
              poolId: claim.poolId,
              cycle: out.answer.cycle,
              amountMinor: out.answer.amountMinor,
            },
            'win paid',
          );
          deps.onWin?.(out.update);
          return reply.code(200).send(out.answer);
        case 'replayed':
          return reply.code(200).send(out.answer);
        case 'claim_id_reused':
          return sendError(
            reply,
            409,
            'claim_id_reused',
            `claimId ${JSON.stringify(claim.claimId)} already won on pool ${JSON.stringify(out.poolId)}`,
          );
        case 'pool_not_found':
          return sendError(reply, 404, 'pool_not_found', `no pool ${JSON.stringify(claim.poolId)}`);
        case 'game_not_linked':
          return sendError(
            reply,
            409,
            'game_not_linked',
            `game ${JSON.stringify(claim.gameId)} is not linked to jackpot ${JSON.stringify(out.jackpotId)}`,
          );
      }
    } catch (e) {
      return dbFailure(reply, e);
    }
  });

  registerAdminRoutes(app, {
    db,
    log,
    now,
    requireAdmin: requireKey('admin'),
    actorOf: (req) => {
      const identity = identities.get(req);
      return identity === undefined ? 'unknown' : `${identity.keyId} (${identity.name})`;
    },
    dbFailure,
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
    },
  };
}
