/**
 * The gateway's composition root: `tsx services/ingest/src/main.ts`.
 * Game servers POST wagers on INGEST_PORT; they go to `jackpot.wagers.v1` and are answered 202 once
 * Kafka has them. Operators configure jackpots through the admin routes.
 *
 * Start: it listens at once and connects to Kafka in the background, retrying; `/readyz` answers
 * 503 until the producer is connected and Postgres answers, and wager requests get 503 meanwhile.
 *
 * SIGTERM/SIGINT: stop taking requests (503 `shutting_down`, not ready), wait for those in flight to
 * be answered, close HTTP, flush and close the producer, close Postgres, exit 0; all within 25 s,
 * under the contract's 30. A request cut short by the deadline was never answered 202, so its
 * client retries it and the eventId dedupes it: nothing is lost or counted twice.
 */
import { createPool, sleep } from '../../../shared/src/db.js';
import { toError } from '../../../shared/src/errors.js';
import { createKafka } from '../../../shared/src/kafka.js';
import { onShutdownSignals } from '../../../shared/src/shutdown.js';
import { createLogger } from '../../../shared/src/logger.js';
import { createRelay, relayAwards } from '../../../shared/src/outbox.js';
import { startMemoryMonitor } from '../../../shared/src/memory-budget.js';
import { createWagerProducer } from '../../../shared/src/producer.js';
import { poolUpdateRecord } from '../../../shared/src/messages/pool-update.js';
import { startTelemetry } from '../../../shared/src/telemetry.js';
import { createIngestApp } from './app.js';
import { loadIngestConfig } from './config.js';

const SHUTDOWN_DEADLINE_MS = 25_000;
/** In-flight requests wait for Kafka acks, ~10 s at worst with the default retries. */
const DRAIN_TIMEOUT_MS = 15_000;

async function main(): Promise<void> {
  const config = loadIngestConfig(process.env);
  const logger = createLogger('ingest', config.logLevel);
  const telemetry = startTelemetry('ingest');
  // 10 connections: key lookups are cached and admin writes are rare.
  const memory = startMemoryMonitor({
    budgetBytes: config.memoryBudgetMb * 1024 * 1024,
    logger,
    meter: telemetry.meter,
  });
  const db = createPool(config.databaseUrl, {
    max: 10,
    applicationName: 'ingest',
    onIdleError: (e) => logger.warn({ err: e.message }, 'idle database connection lost'),
  });
  db.on('error', (err) => logger.warn({ err }, 'idle Postgres connection failed'));
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    clientId: 'ingest',
    logger,
  });
  const producer = createWagerProducer({
    kafka,
    topic: config.topic,
    lingerMs: config.producerLingerMs,
    retry: { retries: config.kafkaRetries },
    logger,
  });
  // Pool updates and awards after a claimed win: a plain idempotent producer beside the wager one.
  const events = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  // One relay at a time, holding no connection while Kafka is waited on: during a Kafka outage
  // a burst of wins costs one stuck relay, not one per win, and never a connection wins need.
  const awardRelay = createRelay({
    run: () => relayAwards(db, events, config.awardsTopic),
    onError: (err) => logger.warn({ err: err.message }, 'award relay failed; will retry'),
  });
  const relayAwardsNow = (): Promise<void> => awardRelay.request();
  const ingest = createIngestApp({
    db,
    producer,
    logger,
    telemetry,
    rateLimit: config.rateLimit,
    claimRateLimit: config.claimRateLimit,
    auth: config.auth,
    httpLimits: config.http,
    memory,
    onWin: (update) => {
      if (update !== null) {
        events
          .send({ topic: config.poolUpdatesTopic, acks: -1, messages: [poolUpdateRecord(update)] })
          .catch((e: unknown) =>
            logger.warn(
              { err: toError(e).message },
              'pool update not published; projectors resync from Postgres',
            ),
          );
      }
      void relayAwardsNow();
    },
  });
  // Awards left behind by a crash between commit and publish go out within this interval.
  const relayTimer = setInterval(() => void relayAwardsNow(), 5_000);
  relayTimer.unref();

  let stopping = false;
  // A request cut short by the deadline was never answered 202: its client retries it, and the
  // eventId dedupes it. So even a forced exit loses nothing.
  onShutdownSignals(logger, { deadlineMs: SHUTDOWN_DEADLINE_MS, failureExitCode: 0 }, async () => {
    stopping = true;
    try {
      await ingest.drain(DRAIN_TIMEOUT_MS);
      await ingest.close();
      clearInterval(relayTimer);
      memory.stop();
      await awardRelay.idle();
      await producer.disconnect();
      await events.disconnect();
      await db.end();
      await telemetry.shutdown();
    } catch (e) {
      logger.warn({ err: toError(e) }, 'shutdown incomplete');
    }
  });

  const address = await ingest.app.listen({ port: config.port, host: config.host });
  logger.info({ address, topic: config.topic }, 'listening');

  // Kafka may come up after us (stack:up starts things in parallel): keep trying, /readyz tells.
  for (let delayMs = 500; !stopping && !producer.isConnected(); delayMs = Math.min(10_000, delayMs * 2)) {
    try {
      await producer.connect();
      await events.connect();
    } catch (e) {
      if (stopping) break;
      logger.warn({ err: toError(e), retryInMs: delayMs }, 'Kafka not reachable yet');
      await sleep(delayMs);
    }
  }
}

main().catch((e: unknown) => {
  const err = toError(e);
  console.error(`ingest failed to start: ${err.message}`);
  process.exit(1);
});
