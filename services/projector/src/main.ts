/**
 * The projector's composition root: `tsx services/projector/src/main.ts`.
 * Reads pool state from Postgres and `jackpot.pool-updates.v1`, serves it on PROJECTOR_PORT.
 */
import { createLogger } from '../../../shared/src/logger.js';
import { startTelemetry } from '../../../shared/src/telemetry.js';
import { toError } from '../../../shared/src/errors.js';
import { loadProjectorConfig } from './config.js';
import { createProjector } from './projector.js';

/** The contract's bound for a graceful exit; we give up a little before it. */
const SHUTDOWN_DEADLINE_MS = 25_000;

async function main(): Promise<void> {
  const config = loadProjectorConfig(process.env);
  const logger = createLogger('projector', config.logLevel);
  const telemetry = startTelemetry('projector');
  const projector = createProjector(config, { logger, telemetry });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Nothing in flight here can be lost: the projector only reads. The deadline is for a broker
    // or database that does not answer the goodbye.
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown took too long; exiting');
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    void projector
      .stop()
      .then(() => telemetry.shutdown())
      .catch((e: unknown) => logger.warn({ err: toError(e) }, 'shutdown incomplete'))
      .finally(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  try {
    await projector.start();
  } catch (e) {
    await projector.stop();
    await telemetry.shutdown().catch(() => undefined);
    throw e;
  }
}

main().catch((e: unknown) => {
  const err = toError(e);
  console.error(`projector failed to start: ${err.message}`);
  process.exit(1);
});
