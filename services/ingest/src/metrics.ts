/**
 * The gateway's metrics, OpenTelemetry semantic conventions: seconds for durations, explicit
 * buckets, low-cardinality attributes only (a route template and a status, a reason code; never a
 * key, game or player).
 */
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { LATENCY_BUCKETS_S } from '../../../shared/src/telemetry.js';

type HttpAttributes = {
  'http.request.method': string;
  'http.route': string;
  'http.response.status_code': number;
};

export interface IngestMetrics {
  /** Requests by route and status. */
  readonly requests: Counter<HttpAttributes>;
  readonly requestDuration: Histogram<HttpAttributes>;
  /** Wagers acknowledged by Kafka and answered as accepted. */
  readonly wagersAccepted: Counter;
  /** Wagers answered as rejected, by reason code (a closed set). */
  readonly wagersRejected: Counter<{ reason: string }>;
  /** Requests refused by the rate limiter, and wagers in them. */
  readonly wagersThrottled: Counter;
  /** Claimed wins paid (replays of a claimId not counted). */
  readonly wins: Counter;
  /** Claims refused with 429 by the per-key claim limit. */
  readonly claimsThrottled: Counter;
  /** API key lookups in Postgres, by result (found, unknown): what the caches did not answer. */
  readonly keyLookups: Counter<{ result: string }>;
  /** Requests refused before their route: 401 (missing_key, unknown_key) and 429 (too_many_failures). */
  readonly authRefused: Counter<{ reason: string }>;
  /** Wager requests refused with 503 overloaded, by cause (memory, producer_buffer). */
  readonly overloaded: Counter<{ cause: string }>;
}

export function createIngestMetrics(meter: Meter): IngestMetrics {
  return {
    requests: meter.createCounter('ingest.http.requests', {
      description: 'HTTP requests by route and status',
    }),
    requestDuration: meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP requests',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
    wins: meter.createCounter('ingest.wins.paid', { unit: '{win}', description: 'Claimed wins paid' }),
    wagersAccepted: meter.createCounter('ingest.wagers.accepted', {
      description: 'Wagers acknowledged by Kafka (acks=all) and answered as accepted',
    }),
    wagersRejected: meter.createCounter('ingest.wagers.rejected', {
      description: 'Wagers answered as rejected, by reason code',
    }),
    wagersThrottled: meter.createCounter('ingest.wagers.throttled', {
      description: 'Wagers in requests refused with 429 by the per-key rate limit',
    }),
    claimsThrottled: meter.createCounter('ingest.claims.throttled', {
      description: 'Win claims refused with 429 by the per-key claim rate limit',
    }),
    keyLookups: meter.createCounter('ingest.auth.key_lookups', {
      description: 'API key lookups in Postgres (not answered by the caches), by result',
    }),
    overloaded: meter.createCounter('ingest.wagers.overloaded', {
      unit: '{request}',
      description:
        'Wager requests refused with 503 overloaded, by cause (memory: pressure at shed or above; producer_buffer: the Kafka buffer is full)',
    }),
    authRefused: meter.createCounter('ingest.auth.refused', {
      description:
        'Requests refused by authentication, by reason (missing_key, unknown_key, too_many_failures)',
    }),
  };
}
