/**
 * `GET /v1/pools`, answered before Fastify sees the request.
 *
 * Every game display polls this one URL, so it is the whole read load. Measured on the 2-core
 * machine (bench/projector.bench.ts and a bare `node:http` server side by side), Fastify's
 * per-request machinery (request and reply objects, child logger, hooks) costs about as much as
 * the socket write itself: ~110 µs of CPU per request against ~60 µs for a bare handler sending
 * the same cached bytes, i.e. ~9,000 against ~16,000-20,000 requests a second. Only the exact
 * path takes this route; anything else (another path, a query string, HEAD, the 503 before the
 * initial load) goes on to Fastify, which serves the same bytes through `routes.ts`.
 *
 * Fastify's own hook for this is the `serverFactory` option; the shared `createHttpServer` does
 * not expose it, so the request listener Fastify installed is wrapped instead.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ProjectorMetrics } from './metrics.js';
import type { PoolStore } from './store.js';

export interface FastListOptions {
  readonly store: PoolStore;
  readonly metrics: ProjectorMetrics;
  /** Null when the store holds the initial load; otherwise Fastify answers (503). */
  readonly notServingReason: () => string | null;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const ATTRIBUTES = {
  'http.request.method': 'GET',
  'http.route': '/v1/pools',
  'http.response.status_code': 200,
} as const;

/** Returns false (and changes nothing) when the server does not have exactly Fastify's one listener. */
export function serveListBeforeFastify(server: Server, opts: FastListOptions): boolean {
  const listeners = server.listeners('request') as RequestListener[];
  const fastify = listeners[0];
  if (listeners.length !== 1 || fastify === undefined) return false;
  server.removeListener('request', fastify);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/v1/pools' || req.method !== 'GET' || opts.notServingReason() !== null) {
      fastify.call(server, req, res);
      return;
    }
    const started = performance.now();
    const body = opts.store.listJson();
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-cache',
    });
    res.end(body);
    opts.metrics.requestDuration.record((performance.now() - started) / 1000, ATTRIBUTES);
  });
  return true;
}
