/**
 * The HTTP edge without a framework: the limits every service's server applies (`HttpLimits`),
 * the bounded `node:http` server that applies them, the readiness gauge, and `createOpsServer`,
 * the operational endpoints alone (`GET /healthz`, `GET /readyz`, `GET /metrics`) for a service
 * that serves nothing else: the aggregator, which so does not load Fastify (~6 MB of RSS a
 * replica at rest, issue 8). shared/src/http.ts builds the Fastify server of the gateway and the
 * projector on the same pieces, so both kinds answer alike.
 *
 * Bounded against slow and greedy clients (see `HttpLimits`): a request must send its headers and
 * its body within set times (else `408`), an idle keep-alive connection is closed, and past the
 * connection cap a request is answered `503` with `Retry-After`; far past it, connections are
 * closed as they arrive. Every refusal is counted in `http.server.refusals` by reason.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ObservableResult } from '@opentelemetry/api';
import { int } from './config.js';
import { AppError } from './errors.js';
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

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
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

/** Why a connection or request was refused, the attribute of `http.server.refusals`. */
export type RefusalReason = 'over_capacity' | 'connection_dropped' | 'request_timeout';

/** Counts a refusal in `http.server.refusals`. */
export function refusalCounter(telemetry: Telemetry): (reason: RefusalReason) => void {
  const refusals = telemetry.meter.createCounter('http.server.refusals', {
    description:
      'Connections and requests refused by the HTTP limits, by reason (over_capacity: 503; connection_dropped: closed on arrival; request_timeout: 408)',
  });
  return (reason) => refusals.add(1, { reason });
}

const OVER_CAPACITY_BODY = JSON.stringify({
  error: {
    code: 'over_capacity',
    message:
      'this server has too many open connections; retry after the Retry-After seconds, or on another instance',
  },
});

/**
 * A `node:http` server with the limits applied: timeouts, keep-alive, and the connection cap.
 * Requests on connections within the cap go to `handle`; past it they are answered 503 here, so the
 * refusal costs no routing. Past twice the cap, Node closes connections as they are accepted.
 * Malformed and timed-out requests are answered by `clientErrorHandler` (registered by the caller:
 * Fastify registers its own option).
 */
export function boundedServer(
  limits: HttpLimits,
  refused: (reason: RefusalReason) => void,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const overCapacity = new WeakSet<Socket>();
  let open = 0;
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
        handle(req, res);
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
}

/** Answers a malformed or timed-out request (408, 431 or 400, the contract's error shape) and closes its connection. */
export function clientErrorHandler(
  limits: HttpLimits,
  refused: (reason: RefusalReason) => void,
): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
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
  };
}

/** How long the `jackpot.ready` gauge waits for the readiness check before it reports 0. */
const READY_METRIC_TIMEOUT_MS = 2_000;

/** The readiness check, a failure read as the reason. */
export function readinessCheck(ready: () => Promise<string | null>): () => Promise<string | null> {
  return () => ready().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
}

/**
 * Readiness as a metric too, checked when Prometheus scrapes: a probe only takes an instance out
 * of rotation, the gauge lets an alert say which one is not ready and for how long. A check that
 * hangs (a database not answering) counts as not ready after READY_METRIC_TIMEOUT_MS, so the
 * scrape itself is not held. Returns the function that unregisters it.
 */
export function readinessGauge(telemetry: Telemetry, whyNotReady: () => Promise<string | null>): () => void {
  const gauge = telemetry.meter.createObservableGauge('jackpot.ready', {
    description: '1 when the instance is ready (GET /readyz answers 200), else 0',
  });
  const observe = async (result: ObservableResult): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('readiness check timed out'), READY_METRIC_TIMEOUT_MS);
    });
    const reason = await Promise.race([whyNotReady(), late]).finally(() => clearTimeout(timer));
    result.observe(reason === null ? 1 : 0);
  };
  gauge.addCallback(observe);
  return () => gauge.removeCallback(observe);
}

export interface OpsServerOptions {
  readonly telemetry: Telemetry;
  /** Resolves to null when ready, or to a short reason why not. */
  readonly ready: () => Promise<string | null>;
  /** Default `DEFAULT_HTTP_LIMITS`. */
  readonly limits?: HttpLimits;
}

export interface OpsServer {
  listen(opts: { readonly port: number; readonly host: string }): Promise<void>;
  /** Stops accepting, answers what is in flight, and closes every connection. */
  close(): Promise<void>;
}

/** Node sends no body in answer to a HEAD (it drops what `end` is given), only the headers. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const notFound = (method: string, url: string): unknown => ({
  error: { code: 'not_found', message: `no route for ${method} ${url}` },
});

/**
 * The operational endpoints alone, answered as the Fastify server answers them (shared/src/http.ts):
 * `GET /healthz` 200 `{"status":"ok"}`; `GET /readyz` 200 `{"status":"ready"}` or 503
 * `{"status":"not ready","reason"}`; `GET /metrics` the Prometheus text; HEAD of each; anything else
 * 404 with the contract's error shape; while closing, 503.
 */
export function createOpsServer(opts: OpsServerOptions): OpsServer {
  const limits = opts.limits ?? DEFAULT_HTTP_LIMITS;
  const refused = refusalCounter(opts.telemetry);
  const whyNotReady = readinessCheck(opts.ready);
  const removeGauge = readinessGauge(opts.telemetry, whyNotReady);
  let closing = false;

  const server = boundedServer(limits, refused, (req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0];
    if (closing) {
      res.setHeader('connection', 'close');
      sendJson(res, 503, { error: { code: 'closing', message: 'the server is shutting down' } });
    } else if (method !== 'GET' && method !== 'HEAD') sendJson(res, 404, notFound(method, url));
    else if (path === '/healthz') sendJson(res, 200, { status: 'ok' });
    else if (path === '/readyz')
      void whyNotReady().then((reason) =>
        reason === null
          ? sendJson(res, 200, { status: 'ready' })
          : sendJson(res, 503, { status: 'not ready', reason }),
      );
    else if (path === '/metrics') opts.telemetry.handleMetrics(req, res);
    else sendJson(res, 404, notFound(method, url));
  });
  server.on('clientError', clientErrorHandler(limits, refused));

  return {
    listen: ({ port, host }) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close: () =>
      new Promise((resolve) => {
        closing = true;
        removeGauge();
        server.close(() => resolve());
        // Keep-alive connections (a scraper's) would hold close() open until they idle out.
        server.closeIdleConnections();
        setImmediate(() => server.closeAllConnections());
      }),
  };
}
