/**
 * The read API: `GET /v1/pools`, `GET /v1/pools/stream`, `GET /v1/pools/{poolId}`.
 * find-my-way matches static segments before parameters, so `/v1/pools/stream` is never taken
 * for a pool id (pool ids always contain `:` anyway).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../../../shared/src/http.js';
import type { ProjectorMetrics } from './metrics.js';
import type { SseHub } from './sse.js';
import type { PoolStore } from './store.js';

export interface PoolRoutesOptions {
  readonly store: PoolStore;
  readonly hub: SseHub;
  readonly metrics: ProjectorMetrics;
  /** Null once the initial load is done; before that, the pool routes answer 503. */
  readonly notServingReason: () => string | null;
}

const JSON_TYPE = 'application/json; charset=utf-8';
// Amounts change every second: no cache between the display and us may keep an old answer.
const NO_CACHE = 'no-cache';

export function registerPoolRoutes(app: FastifyInstance, opts: PoolRoutesOptions): void {
  const { store, hub, metrics } = opts;

  app.addHook('onResponse', (req, reply, done) => {
    metrics.requestDuration.record(reply.elapsedTime / 1000, {
      'http.request.method': req.method,
      'http.route': req.routeOptions.url ?? 'unmatched',
      'http.response.status_code': reply.statusCode,
    });
    done();
  });

  // Checked inline, not in a hook: every hook costs on the hottest route.
  const refusedUntilLoaded = (reply: FastifyReply): boolean => {
    const reason = opts.notServingReason();
    if (reason === null) return false;
    void sendError(reply, 503, 'not_ready', reason);
    return true;
  };

  app.get('/v1/pools', (_req, reply) => {
    if (refusedUntilLoaded(reply)) return;
    void reply.type(JSON_TYPE).header('cache-control', NO_CACHE).send(store.listJson());
  });

  app.get('/v1/pools/stream', (_req, reply) => {
    if (refusedUntilLoaded(reply)) return;
    const refusal = hub.admit();
    if (refusal !== null) {
      void sendError(
        reply.header('retry-after', String(refusal.retryAfterSeconds)),
        503,
        'too_many_streams',
        refusal.message,
      );
      return;
    }
    reply.hijack();
    hub.open(reply.raw);
  });

  app.get<{ Params: { poolId: string } }>('/v1/pools/:poolId', (req, reply) => {
    if (refusedUntilLoaded(reply)) return;
    const entry = store.get(req.params.poolId);
    if (entry === undefined) {
      void sendError(reply, 404, 'pool_not_found', `no pool ${req.params.poolId}`);
      return;
    }
    void reply.type(JSON_TYPE).header('cache-control', NO_CACHE).send(entry.json);
  });
}
