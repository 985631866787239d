/**
 * SIGTERM/SIGINT for every service: run `stop` once, then exit 0; past the deadline (the contract
 * gives 30 s) or when `stop` fails, log it and exit with `failureExitCode`. A service whose
 * unfinished work is simply redelivered (the aggregator) reports such an exit as a failure (1);
 * one that only reads or whose callers retry (the projector, the gateway) can exit 0.
 */
import { toError } from './errors.js';
import type { Logger } from './logger.js';

export function onShutdownSignals(
  logger: Logger,
  opts: { readonly deadlineMs: number; readonly failureExitCode: 0 | 1 },
  stop: () => Promise<void>,
): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: opts.deadlineMs }, 'shutdown took too long; exiting');
      process.exit(opts.failureExitCode);
    }, opts.deadlineMs);
    deadline.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: toError(e) }, 'shutdown incomplete');
        process.exit(opts.failureExitCode);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
