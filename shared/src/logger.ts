import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs, scoped by service; child loggers add fields such as partition or batchId. */
export function createLogger(service: string, level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
