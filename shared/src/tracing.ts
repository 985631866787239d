/**
 * The trace context at the edges: the gateway's request spans, the W3C `traceparent` (and
 * `tracestate`, `baggage` when present) the producer library writes into Kafka headers, and the
 * links a consumer reads back from them. Headers are written and read through the global
 * propagator (`OTEL_PROPAGATORS`, W3C trace context and baggage by default), so a game server that
 * runs its own OpenTelemetry SDK and our producer library gets its spans linked too.
 *
 * With tracing off (`OTEL_TRACES_EXPORTER=none`, the default) no span is ever active, nothing is
 * written to Kafka headers, and the gateway adds no hook: the hot paths pay one check each.
 */
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Link,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IHeaders } from 'kafkajs';

/**
 * True when this process records spans: a tracer provider is registered (an exporter was
 * configured). The no-op tracer gives a root span an invalid context; a real one gives it ids
 * even when its sampler drops it. The probe span is never ended, so nothing exports it.
 */
export function tracingEnabled(): boolean {
  return isSpanContextValid(trace.getTracer('jackpot.probe').startSpan('probe').spanContext());
}

/**
 * Kafka headers carrying the active span's context, or undefined when no span is active (tracing
 * off, or a caller outside any span): then the message goes without headers, as before.
 */
export function traceHeaders(): Record<string, string> | undefined {
  const active = context.active();
  if (trace.getSpan(active) === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** kafkajs hands header values over as Buffers (or arrays of them when a key repeats). */
const kafkaHeaderGetter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map((x) => x.toString()) : v.toString();
  },
};

/**
 * A link to the span that produced a Kafka message, from its headers; undefined without a valid
 * context or when that trace was not sampled (a link into a trace nobody recorded leads nowhere).
 */
export function linkFromKafkaHeaders(
  headers: IHeaders | undefined,
  attributes: Link['attributes'] = {},
): Link | undefined {
  if (headers === undefined || headers['traceparent'] === undefined) return undefined;
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, kafkaHeaderGetter));
  if (spanContext === undefined || (spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { context: spanContext, attributes };
}

/**
 * At most `n` of `items`, spread evenly over them (first and every `length / n`-th), in order: a
 * window's links sample all its partitions, not just the first slice's.
 */
export function pickEvenly<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  if (n <= 0) return [];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)] as T);
  return out;
}

/**
 * A server span (`{method} {route}`, kind SERVER) for every request under `prefix`, child of the
 * caller's `traceparent` when it sent one, ended when the response is sent. `run(req, fn)` runs
 * `fn` inside the request's span, so what it sends to Kafka carries the span's context. With
 * tracing off no hook is added and `run` just calls `fn`.
 */
export function traceHttpServer(
  app: FastifyInstance,
  opts: { readonly serviceName: string; readonly prefix: string },
): { run<T>(req: FastifyRequest, fn: () => T): T } {
  if (!tracingEnabled()) return { run: (_req, fn) => fn() };
  const tracer = trace.getTracer(opts.serviceName);
  const contexts = new WeakMap<FastifyRequest, Context>();
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.url.startsWith(opts.prefix)) {
      const route = req.routeOptions.url ?? 'unmatched';
      const parent = propagation.extract(ROOT_CONTEXT, req.headers);
      const span = tracer.startSpan(
        `${req.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': req.method,
            'http.route': route,
            'url.path': req.url.split('?', 1)[0] ?? req.url,
          },
        },
        parent,
      );
      contexts.set(req, trace.setSpan(parent, span));
    }
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = trace.getSpan(contexts.get(req) ?? ROOT_CONTEXT);
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
  return {
    run: (req, fn) => {
      const ctx = contexts.get(req);
      return ctx === undefined ? fn() : context.with(ctx, fn);
    },
  };
}
