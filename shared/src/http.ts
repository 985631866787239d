/**
 * The HTTP edge every service shares: Fastify with the contract's error shape
 * `{"error": {"code", "message", "details"?}}`, and the operational endpoints
 * `GET /healthz` (alive), `GET /readyz` (dependencies reachable; also the gauge `jackpot.ready`)
 * and `GET /metrics`.
 *
 * Bounded against slow and greedy clients (see `HttpLimits`): a request must send its headers and
 * its body within set times (else `408`), an idle keep-alive connection is closed, and past the
 * connection cap a request is answered `503` with `Retry-After`; far past it, connections are
 * closed as they arrive. Every refusal is counted in `http.server.refusals` by reason.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ObservableResult } from '@opentelemetry/api';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { int } from './config.js';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import type { Telemetry } from './telemetry.js';

type Env = Record<string, string | undefined>;

/**
 * How much of this process one client may hold, and for how long. Read per service from
 * `<SERVICE>_HTTP_*` variables (`httpLimits`), so the gateway and the read API can differ.
 */
export interface HttpLimits {
  /**
   * `<SERVICE>_HTTP_MAX_CONNECTIONS`, default 5,000 open connections. Game servers and displays
   * keep a few pooled connections each, so this is thousands of clients; every connection costs
   * a file descriptor and some kilobytes. Beyond it, each request is answered `503` with
   * `Retry-After: 1` and its connection closed; beyond twice it (a flood), connections are closed
   * on arrival without being read, before they can exhaust file descriptors.
   */
  readonly maxConnections: number;
  /**
   * `<SERVICE>_HTTP_HEADERS_TIMEOUT_MS`, default 10,000: a client has this long from connecting (or
   * from its previous request) to send a request's headers, else `408` and the connection is
   * closed. Stops "slowloris" clients that hold connections by trickling headers; a real client
   * sends its headers in one packet.
   */
  readonly headersTimeoutMs: number;
  /**
   * `<SERVICE>_HTTP_REQUEST_TIMEOUT_MS`, default 30,000: the whole request, body included, must
   * arrive within this, else `408`. The gateway's largest body is 1 MiB: 30 s allows ~35 kB/s,
   * far below any server link. Responses are not limited (a Server-Sent Events stream lives on).
   * At least the headers timeout.
   */
  readonly requestTimeoutMs: number;
  /**
   * `<SERVICE>_HTTP_KEEP_ALIVE_TIMEOUT_MS`, default 65,000: an idle keep-alive connection is closed
   * after this. Longer than the 60 s idle timeout of common load balancers (AWS ALB, nginx), so
   * the balancer closes first and never sends a request on a connection we are closing.
   */
  readonly keepAliveTimeoutMs: number;
}

const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxConnections: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
});

/** Validates `<prefix>_HTTP_*` once at start; a bad value throws CONFIG_INVALID naming it. */
export function httpLimits(env: Env, prefix: string): Readonly<HttpLimits> {
  const limits = {
    maxConnections: int(
      env,
      `${prefix}_HTTP_MAX_CONNECTIONS`,
      DEFAULT_HTTP_LIMITS.maxConnections,
      1,
      1_000_000,
    ),
    headersTimeoutMs: int(
      env,
      `${prefix}_HTTP_HEADERS_TIMEOUT_MS`,
      DEFAULT_HTTP_LIMITS.headersTimeoutMs,
      100,
      600_000,
    ),
    requestTimeoutMs: int(
      env,
      `${prefix}_HTTP_REQUEST_TIMEOUT_MS`,
      DEFAULT_HTTP_LIMITS.requestTimeoutMs,
      100,
      3_600_000,
    ),
    keepAliveTimeoutMs: int(
      env,
      `${prefix}_HTTP_KEEP_ALIVE_TIMEOUT_MS`,
      DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs,
      100,
      3_600_000,
    ),
  };
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new AppError(
      'CONFIG_INVALID',
      `${prefix}_HTTP_REQUEST_TIMEOUT_MS=${limits.requestTimeoutMs} is invalid: expected at least ${prefix}_HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs})`,
    );
  }
  return Object.freeze(limits);
}

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

/** How long the `jackpot.ready` gauge waits for the readiness check before it reports 0. */
const READY_METRIC_TIMEOUT_MS = 2_000;

/** Why a connection or request was refused, the attribute of `http.server.refusals`. */
type RefusalReason = 'over_capacity' | 'connection_dropped' | 'request_timeout';

const OVER_CAPACITY_BODY = JSON.stringify({
  error: {
    code: 'over_capacity',
    message:
      'this server has too many open connections; retry after the Retry-After seconds, or on another instance',
  },
});

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
  const refusals = opts.telemetry.meter.createCounter('http.server.refusals', {
    description:
      'Connections and requests refused by the HTTP limits, by reason (over_capacity: 503; connection_dropped: closed on arrival; request_timeout: 408)',
  });
  const refused = (reason: RefusalReason): void => refusals.add(1, { reason });

  // Connections past the cap, answered 503 on their first request. Tracked here rather than in a
  // Fastify hook so the refusal costs no routing, and so it also covers the raw GETs.
  const overCapacity = new WeakSet<Socket>();
  let open = 0;
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
    serverFactory: (fastify) => {
      const server = createServer(
        {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          // Node checks both timeouts on this interval (30 s by default, which would let a
          // 10 s headers timeout run to 40 s); a pass over the open connections is cheap.
          connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
        },
        (req: IncomingMessage, res: ServerResponse) => {
          if (!overCapacity.has(req.socket)) {
            const raw = req.method === 'GET' && !closing ? rawGets.get(req.url ?? '') : undefined;
            if (raw === undefined || !raw(req, res)) fastify(req, res);
            return;
          }
          refused('over_capacity');
          // Read (and drop) the body, so closing the connection does not reset it under the
          // client before it has read the answer.
          req.resume();
          res.writeHead(503, {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(OVER_CAPACITY_BODY),
            'retry-after': '1',
            connection: 'close',
          });
          res.end(OVER_CAPACITY_BODY);
        },
      );
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      // The hard ceiling: Node closes connections beyond it as they are accepted.
      server.maxConnections = 2 * limits.maxConnections;
      server.on('drop', () => refused('connection_dropped'));
      server.on('connection', (socket: Socket) => {
        open++;
        if (open > limits.maxConnections) overCapacity.add(socket);
        socket.once('close', () => open--);
      });
      return server;
    },
    clientErrorHandler(err: Error & { code?: string }, socket: Socket) {
      // A reset connection has nobody left to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [
              408,
              'request_timeout',
              `the request did not arrive within ${limits.headersTimeoutMs} ms (headers) or ${limits.requestTimeoutMs} ms (whole)`,
            ]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'headers_too_large', 'the request headers are too large']
            : [400, 'bad_request', 'malformed HTTP request'];
      if (status === 408) refused('request_timeout');
      if (socket.writable) {
        const body = JSON.stringify({ error: { code, message } });
        socket.write(
          `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
            `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
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

  const whyNotReady = (): Promise<string | null> =>
    opts.ready().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
  // Readiness as a metric too, checked when Prometheus scrapes: a probe only takes an instance out
  // of rotation, the gauge lets an alert say which one is not ready and for how long. A check
  // that hangs (a database not answering) counts as not ready after READY_METRIC_TIMEOUT_MS,
  // so the scrape itself is not held.
  const readyGauge = opts.telemetry.meter.createObservableGauge('jackpot.ready', {
    description: '1 when the instance is ready (GET /readyz answers 200), else 0',
  });
  const observeReady = async (result: ObservableResult): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('readiness check timed out'), READY_METRIC_TIMEOUT_MS);
    });
    const reason = await Promise.race([whyNotReady(), late]).finally(() => clearTimeout(timer));
    result.observe(reason === null ? 1 : 0);
  };
  readyGauge.addCallback(observeReady);
  app.addHook('onClose', (_app, done) => {
    readyGauge.removeCallback(observeReady);
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
