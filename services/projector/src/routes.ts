/**
 * The read API: `GET /v1/pools`, `GET /v1/pools/stream`, `GET /v1/pools/{poolId}`.
 * find-my-way matches static segments before parameters, so `/v1/pools/stream` is never taken
 * for a pool id (pool ids always contain `:` anyway).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError, type RawGetHandler } from '../../../shared/src/http.js';
import type { HotTierCounts } from './cache.js';
import type { ProjectorMetrics } from './metrics.js';
import type { SseHub } from './sse.js';
import type { PoolStore } from './store.js';

export interface PoolRoutesOptions {
  readonly store: PoolStore;
  readonly hub: SseHub;
  readonly metrics: ProjectorMetrics;
  /** The hot tier's hit and miss counts (the store is the tier): every read of a pool counts. */
  readonly hot: HotTierCounts;
  /** Null once the initial load is done; before that, the pool routes answer 503. */
  readonly notServingReason: () => string | null;
}

const JSON_TYPE = 'application/json; charset=utf-8';
// Amounts change every second: no cache between the display and us may keep an old answer.
const NO_CACHE = 'no-cache';

const LIST_ATTRIBUTES = {
  'http.request.method': 'GET',
  'http.route': '/v1/pools',
  'http.response.status_code': 200,
} as const;

/**
 * `GET /v1/pools` as a raw handler (`rawGets` of shared/src/http.ts): every display polls this
 * one URL, so it is the whole read load. Before the initial load it declines, and Fastify's route
 * below answers the 503; that route also serves the same bytes for `/v1/pools?…` and HEAD.
 */
export function rawListPools(opts: Omit<PoolRoutesOptions, 'hub'>): RawGetHandler {
  const { store, metrics, hot } = opts;
  return (_req, res) => {
    if (opts.notServingReason() !== null) return false;
    const started = performance.now();
    hot.hits++;
    const body = store.listJson();
    res.writeHead(200, {
      'content-type': JSON_TYPE,
      'content-length': body.length,
      'cache-control': NO_CACHE,
    });
    res.end(body);
    metrics.requestDuration.record((performance.now() - started) / 1000, LIST_ATTRIBUTES);
    return true;
  };
}

export function registerPoolRoutes(app: FastifyInstance, opts: PoolRoutesOptions): void {
  const { store, hub, metrics, hot } = opts;

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
    hot.hits++;
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
      hot.misses++;
      void sendError(reply, 404, 'pool_not_found', `no pool ${req.params.poolId}`);
      return;
    }
    hot.hits++;
    void reply.type(JSON_TYPE).header('cache-control', NO_CACHE).send(entry.json);
  });
}
