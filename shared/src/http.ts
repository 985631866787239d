/**
 * The HTTP edge every service shares: Fastify with the contract's error shape
 * `{"error": {"code", "message", "details"?}}`, and the operational endpoints
 * `GET /healthz` (alive), `GET /readyz` (dependencies reachable) and `GET /metrics`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from './logger.js';
import type { Telemetry } from './telemetry.js';

export interface OpsOptions {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** Resolves to null when ready, or to a short reason why not. */
  readonly ready: () => Promise<string | null>;
  /** Request body limit in bytes (Fastify answers 413 above it). */
  readonly bodyLimit?: number;
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  return reply.code(status).send({ error: details === undefined ? { code, message } : { code, message, details } });
}

export function createHttpServer(opts: OpsOptions): FastifyInstance {
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
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route for ${req.method} ${req.url}`));

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reason = await opts.ready().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    return reason === null ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason });
  });
  app.get('/metrics', (req, reply) => {
    reply.hijack();
    opts.telemetry.handleMetrics(req.raw, reply.raw);
  });
  return app;
}
