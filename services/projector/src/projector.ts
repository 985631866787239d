/**
 * The projector: keeps a view of every pool in memory and serves it over HTTP.
 *
 * Three sources feed one store:
 * 1. the update topic, for changes within milliseconds of the aggregator's commit, through the
 *    version check (`applyUpdate`: only a higher version moves a pool);
 * 2. a load of every row of `jackpot.pool_totals` at start;
 * 3. the same load every `resyncMs`, and at once for an update of a pool not seen yet. It brings
 *    in new pools (with the tier and currency the topic does not carry) and any change whose
 *    message was never published (an aggregator that died between commit and publish).
 * Loads go through `resyncPool`: Postgres is the authority, so a view it does not confirm (a
 * message with a version Postgres never committed, from a bug or a forged message on the topic)
 * is replaced by the next load, and SSE clients hear of the correction like of any change.
 */
import type { AddressInfo } from 'node:net';
import { createPool, retryDb } from '../../../shared/src/db.js';
import { AppError, toError } from '../../../shared/src/errors.js';
import { createHttpServer, routesOf } from '../../../shared/src/http.js';
import { createKafka } from '../../../shared/src/kafka.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { Telemetry } from '../../../shared/src/telemetry.js';
import type { ProjectorConfig } from './config.js';
import { createProjectorMetrics, type UpdateSource } from './metrics.js';
import { executeSqlOn, loadPools } from './postgres-source.js';
import { poolsToRemove, type ApplyOutcome, type PoolSnapshot, type PoolView } from './projection.js';
import { decodePoolUpdate } from '../../../shared/src/messages/pool-update.js';
import { createResyncer, type ResyncTrigger } from './resync.js';
import { createSseHub } from './sse.js';
import { createPoolStore, type PoolStore } from './store.js';
import { rawListPools, registerPoolRoutes } from './routes.js';
import { createPageData } from './page-data.js';
import { registerPageRoutes } from './page-routes.js';
import { createUpdateConsumer, uniqueGroupId } from './update-consumer.js';
import { createCacheTier, type HotTierCounts } from './cache.js';
import { stalePatterns } from './cache-policy.js';
import { observeCaches } from './metrics.js';
import { registerReadRoutes } from './read-routes.js';
import { registerOpenApiRoute } from './openapi.js';

export interface ProjectorDeps {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
}

export interface Projector {
  /** Listens, joins the topic, loads Postgres; resolves when ready to serve. */
  start(): Promise<{ readonly port: number }>;
  /** Ends SSE streams, stops the timer and the consumer, closes HTTP and Postgres. Never throws; once. */
  stop(): Promise<void>;
  readonly store: PoolStore;
  /** The HTTP routes served, for the API document's test. */
  routes(): ReadonlyArray<{ readonly method: string; readonly url: string }>;
}

export function createProjector(config: ProjectorConfig, deps: ProjectorDeps): Projector {
  const log = deps.logger;
  const metrics = createProjectorMetrics(deps.telemetry.meter);
  // Four connections: one resync at a time, the live page's reads (a wins read and a counters
  // sample at most at once, both cached), one more for history and statistics (one query per
  // distinct question and second at most, through the cache tiers), and headroom for a slow one.
  // More would let a burst of distinct statistics questions hold Postgres, not answer faster.
  const pgPool = createPool(config.databaseUrl, {
    max: 4,
    applicationName: 'projector',
    onIdleError: (e) => log.warn({ err: e.message }, 'idle database connection lost'),
  });
  pgPool.on('error', (err) => log.warn({ err }, 'idle Postgres connection failed'));
  const executeSql = executeSqlOn(pgPool);
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    clientId: 'projector',
    logger: log,
  });
  const store = createPoolStore();
  // The cache tiers (cache-policy.ts): hot is the store itself; warm and cold hold answers.
  const hot: HotTierCounts = { hits: 0, misses: 0 };
  const warm = createCacheTier('warm', config.cache.warm);
  const cold = createCacheTier('cold', config.cache.cold);
  const stopObservingCaches = observeCaches(deps.telemetry.meter, () => [
    { tier: 'hot', hits: hot.hits, misses: hot.misses, entries: store.ids().length, bytes: 0 },
    warm.stats(),
    cold.stats(),
  ]);
  // Invalidation by event: a pool that changed (an update, a win, a correction) makes its history,
  // its jackpot's statistics and, on a new cycle, the recent wins stale.
  const cycles = new Map<string, number>();
  store.onChange(({ view }) => {
    const patterns = stalePatterns({ ...view, previousCycle: cycles.get(view.poolId) });
    cycles.set(view.poolId, view.cycle);
    for (const pattern of patterns) {
      warm.settle(pattern, config.cache.settleMs);
      cold.settle(pattern, config.cache.settleMs);
    }
  });
  const hub = createSseHub({
    store,
    heartbeatMs: config.sseHeartbeatMs,
    maxClients: config.sseMaxClients,
    stallMs: config.sseStallMs,
    logger: log,
    metrics,
  });
  let loaded = false;
  let stopping: Promise<void> | undefined;

  const apply = (update: PoolSnapshot, source: UpdateSource): ApplyOutcome => {
    const outcome = store.apply(update);
    if (outcome.kind === 'applied') metrics.updatesApplied.add(1, { source });
    else
      metrics.updatesIgnored.add(1, {
        source,
        reason: outcome.kind === 'unknown-pool' ? 'unknown_pool' : outcome.kind,
      });
    return outcome;
  };

  const resync = (row: PoolView, mark: number): void => {
    const held = store.get(row.poolId)?.view;
    const outcome = store.resync(row, mark);
    switch (outcome.kind) {
      case 'applied':
        metrics.updatesApplied.add(1, { source: 'postgres' });
        break;
      case 'confirmed':
        metrics.updatesIgnored.add(1, { source: 'postgres', reason: 'duplicate' });
        break;
      case 'unconfirmed':
        metrics.updatesIgnored.add(1, { source: 'postgres', reason: 'unconfirmed' });
        break;
      case 'corrected':
        metrics.updatesCorrected.add(1);
        // A bug in a writer or a message nobody should have written: worth an operator's look.
        log.warn(
          {
            poolId: row.poolId,
            servedVersion: held?.version,
            servedAmountMinor: held?.amountMinor.toString(),
            postgresVersion: row.version,
            postgresAmountMinor: row.amountMinor.toString(),
          },
          'served pool state not in Postgres; replaced by the committed state',
        );
        break;
    }
  };

  // Loads run one after another: two overlapping loads could let the older snapshot remove a
  // pool the newer one had just added.
  let loadChain: Promise<unknown> = Promise.resolve();
  const loadAll = (trigger: ResyncTrigger): Promise<void> => {
    const run = async (): Promise<void> => {
      try {
        // Taken before the query is sent: a message that arrived before it is in the query's
        // snapshot if it is true (updates are published after their commit).
        const mark = store.readMark();
        const views = await loadPools(executeSql);
        for (const view of views) resync(view, mark);
        const gone = poolsToRemove(
          store.ids(),
          views.map((v) => v.poolId),
        );
        if (gone.length > 0) {
          log.info({ pools: gone }, 'pools no longer in Postgres; removed');
          store.remove(gone);
        }
        metrics.resyncs.add(1, { trigger, outcome: 'ok' });
      } catch (e) {
        metrics.resyncs.add(1, { trigger, outcome: 'error' });
        throw e;
      }
    };
    const p = loadChain.then(run);
    loadChain = p.catch(() => undefined);
    return p;
  };

  const resyncer = createResyncer({
    run: loadAll,
    intervalMs: config.resyncMs,
    onError: (err, trigger) =>
      log.warn({ err, trigger }, 'resync from Postgres failed; serving the last known state'),
  });

  const consumer = createUpdateConsumer({
    kafka,
    topic: config.topic,
    groupId: uniqueGroupId(),
    logger: log,
    onMessage: (value, partition) => {
      // A null value is a tombstone; nothing in the pipeline writes one, and no pool goes away
      // through the topic (only through Postgres, which the resync reads).
      if (value === null) return;
      const parsed = decodePoolUpdate(value);
      if (!parsed.ok) {
        metrics.updatesIgnored.add(1, { source: 'kafka', reason: 'invalid' });
        log.warn({ partition, reason: parsed.reason }, 'unreadable pool update; re-reading Postgres instead');
        resyncer.request('invalid_update');
        return;
      }
      if (apply(parsed.message, 'kafka').kind === 'unknown-pool') resyncer.request('unknown_pool');
    },
    onRejoin: () => resyncer.request('rejoin'),
  });

  const notServingReason = (): string | null => (loaded ? null : 'initial load from Postgres not done');
  const app = createHttpServer({
    logger: log,
    telemetry: deps.telemetry,
    limits: config.http,
    ready: () =>
      Promise.resolve(loaded ? consumer.notRunningReason() : 'initial load from Postgres not done'),
    rawGets: new Map([['/v1/pools', rawListPools({ store, metrics, hot, notServingReason })]]),
  });
  registerPoolRoutes(app, { store, hub, metrics, hot, notServingReason });
  registerReadRoutes(app, { store, hot, warm, cold, executeSql, logger: log, notServingReason });
  const pageData = createPageData({
    cache: warm,
    executeSql,
    kafka,
    aggregatorGroupId: config.aggregatorGroupId,
    wagerTopic: config.wagerTopic,
    logger: log,
  });
  registerPageRoutes(app, { data: pageData, logger: log });
  registerOpenApiRoute(app);

  return {
    store,
    routes: () => routesOf(app),
    async start() {
      // Listen first, so /healthz and /readyz answer while the rest comes up.
      await app.listen({ port: config.port, host: config.host });
      const { port } = app.server.address() as AddressInfo;
      await consumer.start();
      if (stopping !== undefined) {
        // Stopped while joining: the consumer came up after stop() looked for it.
        await consumer.stop();
        throw new AppError('INTERNAL', 'projector stopped while starting');
      }
      await retryDb(() => loadAll('start'), {
        onRetry: (err, attempt, delayMs) =>
          log.warn({ err, attempt, delayMs }, 'initial load from Postgres failed; retrying'),
      });
      loaded = true;
      resyncer.start();
      pageData.start();
      log.info(
        { port, pools: store.ids().length, topic: config.topic, resyncMs: config.resyncMs },
        'projector ready',
      );
      return { port };
    },
    stop() {
      stopping ??= (async () => {
        const step = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
          try {
            await fn();
          } catch (e) {
            log.warn({ err: toError(e), step: name }, 'shutdown step failed');
          }
        };
        await step('sse', () => hub.closeAll());
        await step('resync', () => resyncer.stop());
        await step('page-data', () => pageData.stop());
        await step('consumer', () => consumer.stop());
        await step('http', () => app.close());
        await step('postgres', () => pgPool.end());
        await step('store', () => store.close());
        await step('caches', () => {
          stopObservingCaches();
          warm.close();
          cold.close();
        });
      })();
      return stopping;
    },
  };
}
