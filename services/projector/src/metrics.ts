/**
 * The projector's metrics, OpenTelemetry semantic conventions: seconds for durations, explicit
 * buckets, low-cardinality attributes only (a route template, never a pool id).
 */
import type { BatchObservableResult, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import { LATENCY_BUCKETS_S } from '../../../shared/src/telemetry.js';
import type { TierStats } from './cache.js';

export type UpdateSource = 'kafka' | 'postgres';

export interface ProjectorMetrics {
  /** Updates that moved a pool's view to a newer version. */
  readonly updatesApplied: Counter<{ source: UpdateSource }>;
  /**
   * Updates not applied: `stale` (older version), `duplicate` (same version), `unknown_pool`,
   * `invalid`, `unconfirmed` (a resync row older than a view that arrived while it was read).
   */
  readonly updatesIgnored: Counter<{
    source: UpdateSource;
    reason: 'stale' | 'duplicate' | 'unknown_pool' | 'invalid' | 'unconfirmed';
  }>;
  /** Served views that Postgres did not confirm, replaced by its committed state. */
  readonly updatesCorrected: Counter;
  /** Full re-reads of Postgres, by what triggered them and whether they succeeded. */
  readonly resyncs: Counter<{ trigger: string; outcome: 'ok' | 'error' }>;
  /** Open SSE streams. */
  readonly sseClients: UpDownCounter;
  /** Streams refused: `capacity` (PROJECTOR_SSE_MAX_CLIENTS reached). */
  readonly sseClientsRefused: Counter<{ reason: 'capacity' }>;
  /** Streams the projector closed: `stalled` (the client read nothing for sseStallMs). */
  readonly sseClientsDropped: Counter<{ reason: 'stalled' }>;
  /** Pool events a slow client never got because a newer state of the same pool replaced them. */
  readonly sseEventsCoalesced: Counter;
  readonly requestDuration: Histogram<{
    'http.request.method': string;
    'http.route': string;
    'http.response.status_code': number;
  }>;
}

export function createProjectorMetrics(meter: Meter): ProjectorMetrics {
  return {
    updatesApplied: meter.createCounter('projector.updates.applied', {
      description: 'Pool updates applied (newer version)',
    }),
    updatesIgnored: meter.createCounter('projector.updates.ignored', {
      description: 'Pool updates not applied, by reason (stale: older version; duplicate: same version)',
    }),
    updatesCorrected: meter.createCounter('projector.updates.corrected', {
      description: 'Served pool views not in Postgres (a version it never committed), replaced by a resync',
    }),
    resyncs: meter.createCounter('projector.resyncs', {
      description: 'Full re-reads of jackpot.pool_totals',
    }),
    sseClients: meter.createUpDownCounter('projector.sse.clients', {
      description: 'Open Server-Sent Events streams',
    }),
    sseClientsRefused: meter.createCounter('projector.sse.clients.refused', {
      description:
        'Server-Sent Events streams refused with 503, by reason (capacity: PROJECTOR_SSE_MAX_CLIENTS reached)',
    }),
    sseClientsDropped: meter.createCounter('projector.sse.clients.dropped', {
      description:
        'Server-Sent Events streams closed by the projector, by reason (stalled: nothing read for a minute)',
    }),
    sseEventsCoalesced: meter.createCounter('projector.sse.events.coalesced', {
      description:
        'Pool events replaced by a newer state of the same pool before a slow client could take them',
    }),
    requestDuration: meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP requests',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
  };
}

/**
 * The cache tiers' hit rates and sizes, read from the tiers' own counts when metrics are collected:
 * nothing is recorded on the request path (`GET /v1/pools` is a hot-tier hit each time).
 * - `projector.cache.requests` (counter; `tier` = hot|warm|cold, `result` = hit|miss): a hit rate
 *   is `hit / (hit + miss)` per tier. Hot: a pool read from the store (a miss is an unknown pool,
 *   404); warm and cold: an answer found cached, or computed by a query.
 * - `projector.cache.entries` (gauge, per `tier`): pools held (hot), answers cached (warm, cold).
 * - `projector.cache.size` (gauge, bytes, per `tier`): the cached bodies of warm and cold.
 */
export function observeCaches(meter: Meter, tiers: () => readonly TierStats[]): () => void {
  const requests = meter.createObservableCounter('projector.cache.requests', {
    description: 'Reads of the projector cache tiers, by tier (hot|warm|cold) and result (hit|miss)',
  });
  const entries = meter.createObservableGauge('projector.cache.entries', {
    description: 'Entries held per projector cache tier (hot: pools; warm, cold: cached answers)',
  });
  const size = meter.createObservableGauge('projector.cache.size', {
    description: 'Bytes of cached answers per projector cache tier (the hot tier holds the pools)',
    unit: 'By',
  });
  const callback = (r: BatchObservableResult): void => {
    for (const t of tiers()) {
      r.observe(requests, t.hits, { tier: t.tier, result: 'hit' });
      r.observe(requests, t.misses, { tier: t.tier, result: 'miss' });
      r.observe(entries, t.entries, { tier: t.tier });
      r.observe(size, t.bytes, { tier: t.tier });
    }
  };
  const observables = [requests, entries, size];
  meter.addBatchObservableCallback(callback, observables);
  // A stopped projector stops reporting (tests start several in one process, on one meter).
  return () => meter.removeBatchObservableCallback(callback, observables);
}
