/**
 * One error base for the whole product: a closed set of string codes and a `retryable` flag,
 * so callers decide "retry with backoff" or "give up and report" from data, not from messages.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'KAFKA_UNAVAILABLE'
  | 'DB_UNAVAILABLE'
  | 'DB_CONFLICT'
  | 'POSITIONS_FOREIGN'
  | 'TIMEOUT'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'INTERNAL';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryable?: boolean; cause?: unknown; details?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

/**
 * Whether trying the same thing again can succeed: the one question retries and the gateway's
 * 503s ask. Only an AppError answers yes; raw errors are turned into one at their edge first
 * (`fromDbError`, `fromKafkaError`), and anything unknown is a bug, not worth a retry.
 */
export function isRetryable(e: unknown): boolean {
  return e instanceof AppError && e.retryable;
}

/** `catch (e)` starts here: whatever was thrown becomes an `Error`. */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}
