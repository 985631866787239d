/**
 * The aggregator's window span, `jackpot.aggregator.window` (kind CONSUMER): one per window
 * transaction, a root span (a window serves many requests, it is no one's child) with links to
 * the spans that produced its wagers, read from their Kafka headers (`traceparent`). At most
 * `MAX_LINKS_PER_WINDOW` links, spread over the window's slices; only sampled contexts are linked.
 * Whether the window itself is recorded is the sampler's call (`OTEL_TRACES_SAMPLER`, e.g.
 * `traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.01` for one window in a hundred).
 *
 * With tracing off the headers are never read and the window runs as it is: `note` returns at
 * once and `window` calls `apply`.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { toError } from '../../../shared/src/errors.js';
import { linkFromKafkaHeaders, pickEvenly, tracingEnabled } from '../../../shared/src/tracing.js';

/**
 * 32 links: a window holds up to 10,000 wagers, and a span with a link per wager would weigh
 * megabytes at the collector; 32 sampled requests are enough to go from a window to the requests
 * it served and back (each request's trace id is its own link).
 */
export const MAX_LINKS_PER_WINDOW = 32;

/** What the span reports of a window's outcome. */
interface Counted {
  readonly applied: number;
  readonly duplicates: number;
  readonly ledgerRows: number;
  readonly rejected: ReadonlyMap<string, number>;
}

export interface WindowTracing {
  /** Keeps the trace contexts of a slice's messages (`slice` is the key `window` is given). */
  note(slice: object, partition: number, messages: readonly KafkaMessage[]): void;
  /** Runs `apply` (one window: `slices`, `events` wagers) inside the window's span. */
  window<T extends Counted>(slices: readonly object[], events: number, apply: () => Promise<T>): Promise<T>;
}

export function createWindowTracing(opts: {
  readonly topic: string;
  readonly groupId: string;
  readonly maxLinks?: number;
}): WindowTracing {
  if (!tracingEnabled()) return { note: () => undefined, window: (_s, _e, apply) => apply() };
  const maxLinks = opts.maxLinks ?? MAX_LINKS_PER_WINDOW;
  const tracer = trace.getTracer('jackpot-aggregator');
  const linksOf = new WeakMap<object, Link[]>();
  return {
    note(slice, partition, messages) {
      const links: Link[] = [];
      for (const m of messages) {
        const link = linkFromKafkaHeaders(m.headers, {
          'messaging.destination.partition.id': String(partition),
          'messaging.kafka.offset': Number(m.offset),
        });
        if (link !== undefined && links.push(link) >= maxLinks) break;
      }
      if (links.length > 0) linksOf.set(slice, links);
    },
    async window(slices, events, apply) {
      const span = tracer.startSpan(
        'jackpot.aggregator.window',
        {
          kind: SpanKind.CONSUMER,
          links: pickEvenly(
            slices.flatMap((s) => linksOf.get(s) ?? []),
            maxLinks,
          ),
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'process',
            'messaging.destination.name': opts.topic,
            'messaging.consumer.group.name': opts.groupId,
            'messaging.batch.message_count': events,
          },
        },
        ROOT_CONTEXT,
      );
      try {
        const outcome = await context.with(trace.setSpan(ROOT_CONTEXT, span), apply);
        let rejected = 0;
        for (const n of outcome.rejected.values()) rejected += n;
        span.setAttributes({
          'jackpot.window.applied': outcome.applied,
          'jackpot.window.duplicates': outcome.duplicates,
          'jackpot.window.dead_lettered': rejected,
          'jackpot.window.ledger_rows': outcome.ledgerRows,
        });
        return outcome;
      } catch (e) {
        const err = toError(e);
        span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        throw e;
      } finally {
        span.end();
      }
    },
  };
}
