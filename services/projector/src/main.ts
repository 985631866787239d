/**
 * The projector's composition root: `tsx services/projector/src/main.ts`.
 * Reads pool state from Postgres and `jackpot.pool-updates.v1`, serves it on PROJECTOR_PORT.
 */
import { startMemoryMonitor } from '../../../shared/src/memory-budget.js';
import { onShutdownSignals } from '../../../shared/src/shutdown.js';
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
  // Warn and export only: the projector holds one entry per pool and what its connections buffer.
  const memory = startMemoryMonitor({
    budgetBytes: config.memoryBudgetMb * 1024 * 1024,
    logger,
    meter: telemetry.meter,
  });

  // Nothing in flight here can be lost: the projector only reads. The deadline is for a broker
  // or database that does not answer the goodbye.
  onShutdownSignals(logger, { deadlineMs: SHUTDOWN_DEADLINE_MS, failureExitCode: 0 }, async () => {
    await projector.stop();
    memory.stop();
    await telemetry.shutdown();
  });

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
