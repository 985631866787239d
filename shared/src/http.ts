/**
 * The HTTP edge of the services with an API (the gateway, the projector): Fastify with the
 * contract's error shape `{"error": {"code", "message", "details"?}}`, and the operational
 * endpoints `GET /healthz` (alive), `GET /readyz` (dependencies reachable; also the gauge
 * `jackpot.ready`) and `GET /metrics`, on the bounded `node:http` server of shared/src/http-core.ts
 * (the limits, the connection cap and the refusals; the aggregator serves only the operational
 * endpoints, from there, without Fastify).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import {
  boundedServer,
  clientErrorHandler,
  DEFAULT_HTTP_LIMITS,
  readinessCheck,
  readinessGauge,
  refusalCounter,
  type HttpLimits,
} from './http-core.js';
import type { Logger } from './logger.js';
import type { Telemetry } from './telemetry.js';

export { httpLimits, type HttpLimits } from './http-core.js';

export interface OpsOptions {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** Resolves to null when ready, or to a short reason why not. */
  readonly ready: () => Promise<string | null>;
  /** Request body limit in bytes (Fastify answers 413 above it). */
  readonly bodyLimit?: number;
  /** Default `DEFAULT_HTTP_LIMITS`. */
  readonly limits?: HttpLimits;
  /**
   * GETs of an exact path (no query string) answered in the server factory, before Fastify's
   * routing, for a service's hottest read. Fastify's own per-request work (request and reply
   * objects, hooks, serialization) costs about as much as the socket write: the projector's
   * `GET /v1/pools`, polled by every display, is answered here at about twice the rate
   * (bench/projector.bench.ts). The handler returns false to let Fastify answer instead (a 503
   * before the first load, say); HEAD, other methods, a query string and anything past the
   * connection cap or after `close()` go to Fastify as usual, so its routes must serve the same.
   */
  readonly rawGets?: ReadonlyMap<string, RawGetHandler>;
}

/** Answers a request with `res` and returns true, or returns false (and touches nothing). */
export type RawGetHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): FastifyReply {
  return reply
    .code(status)
    .send({ error: details === undefined ? { code, message } : { code, message, details } });
}

/** Every route of each server made here, in registration order: what an API document must cover. */
const registeredRoutes = new WeakMap<
  FastifyInstance,
  Array<{ readonly method: string; readonly url: string }>
>();

/** The routes registered on `app` (made by `createHttpServer`), HEAD routes Fastify adds included. */
export function routesOf(
  app: FastifyInstance,
): ReadonlyArray<{ readonly method: string; readonly url: string }> {
  return registeredRoutes.get(app) ?? [];
}

export function createHttpServer(opts: OpsOptions): FastifyInstance {
  const limits = opts.limits ?? DEFAULT_HTTP_LIMITS;
  const refused = refusalCounter(opts.telemetry);
  const rawGets = opts.rawGets ?? new Map<string, RawGetHandler>();
  // Once closing, Fastify answers everything (503, return503OnClosing).
  let closing = false;

  // Typed as Fastify's logger so the instance keeps Fastify's default generics.
  const httpLogger: FastifyBaseLogger = opts.logger.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: httpLogger,
    // Per-request log lines off: metrics count requests; logs are for what goes wrong.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Display polls and SSE streams keep connections open; don't let an idle socket pin shutdown.
    forceCloseConnections: true,
    return503OnClosing: true,
    serverFactory: (fastify) =>
      boundedServer(limits, refused, (req, res) => {
        const raw = req.method === 'GET' && !closing ? rawGets.get(req.url ?? '') : undefined;
        if (raw === undefined || !raw(req, res)) fastify(req, res);
      }),
    clientErrorHandler: clientErrorHandler(limits, refused),
  });

  const routes: Array<{ method: string; url: string }> = [];
  registeredRoutes.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url });
  });

  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) opts.logger.error({ err }, 'request failed');
    const code =
      status === 413
        ? 'payload_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : status === 400
            ? 'bad_request'
            : status >= 500
              ? 'internal'
              : (err.code ?? 'error').toLowerCase();
    return sendError(reply, status, code, status >= 500 ? 'internal error' : err.message);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'not_found', `no route for ${req.method} ${req.url}`),
  );

  const whyNotReady = readinessCheck(opts.ready);
  const removeReadyGauge = readinessGauge(opts.telemetry, whyNotReady);
  app.addHook('onClose', (_app, done) => {
    removeReadyGauge();
    done();
  });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reason = await whyNotReady();
    return reason === null ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason });
  });
  app.get('/metrics', (req, reply) => {
    reply.hijack();
    opts.telemetry.handleMetrics(req.raw, reply.raw);
  });
  return app;
}
