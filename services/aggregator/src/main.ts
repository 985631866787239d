/**
 * The aggregator service: reads wagers from Kafka in windows, books their contributions into
 * Postgres exactly once, and tells projectors about the new pool totals. Start as many replicas
 * as the wagers topic has partitions; they share the work through the consumer group.
 */
import { hostname } from 'node:os';
import { createPool, withClient } from '../../../shared/src/db.js';
import { toError } from '../../../shared/src/errors.js';
import { createOpsServer } from '../../../shared/src/http-core.js';
import { createKafka } from '../../../shared/src/kafka.js';
import { startMemoryMonitor } from '../../../shared/src/memory-budget.js';
import { onShutdownSignals } from '../../../shared/src/shutdown.js';
import { createLogger } from '../../../shared/src/logger.js';
import { startTelemetry } from '../../../shared/src/telemetry.js';
import { createAggregator } from './aggregator.js';
import { loadConfig } from './config.js';

const SHUTDOWN_DEADLINE_MS = 30_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('aggregator', config.logLevel);
  const telemetry = startTelemetry('jackpot-aggregator');
  const pool = createPool(config.databaseUrl, {
    max: config.dbPoolMax,
    applicationName: 'jackpot-aggregator',
    onIdleError: (e) =>
      logger.warn({ err: e.message }, 'idle database connection lost; the next window reconnects'),
  });
  const memory = startMemoryMonitor({
    budgetBytes: config.memoryBudgetMb * 1024 * 1024,
    logger,
    meter: telemetry.meter,
  });
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    clientId: `aggregator-${hostname()}-${process.pid}`,
    logger,
  });
  const aggregator = createAggregator({
    kafka,
    pool,
    config,
    logger,
    meter: telemetry.meter,
    memory,
    // kafkajs gave up on the consumer (a non-retriable error): nothing more would be applied, so
    // exit and let the supervisor start a fresh replica, which resumes from Postgres's positions.
    onFatal: (e) => {
      logger.fatal({ err: e.message }, 'Kafka consumer stopped for good; exiting');
      process.exit(1);
    },
  });

  const http = createOpsServer({
    telemetry,
    limits: config.http,
    ready: async () => {
      const reason = aggregator.readiness();
      if (reason !== null) return reason;
      await withClient(pool, (c) => c.query('SELECT 1'));
      return null;
    },
  });
  await http.listen({ port: config.port, host: '0.0.0.0' });
  await aggregator.start();
  logger.info(
    {
      port: config.port,
      topic: config.topic,
      groupId: config.groupId,
      batchMaxEvents: config.batchMaxEvents,
      batchMaxWaitMs: config.batchMaxWaitMs,
      memoryBudgetMb: config.memoryBudgetMb,
    },
    'aggregator started',
  );

  // Past the deadline the window in flight is abandoned: it was never committed, so the next
  // owner of its partitions applies it. Exit 1 says so.
  onShutdownSignals(logger, { deadlineMs: SHUTDOWN_DEADLINE_MS, failureExitCode: 1 }, async () => {
    await aggregator.stop();
    memory.stop();
    await http.close();
    await pool.end();
    await telemetry.shutdown();
  });
}

main().catch((e: unknown) => {
  console.error(`aggregator failed to start: ${toError(e).message}`);
  process.exit(1);
});
