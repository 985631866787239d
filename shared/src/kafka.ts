import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { KafkaSecurity } from './config.js';
import { AppError, toError } from './errors.js';
import type { Logger } from './logger.js';

/** The topics of the contract. */
export const TOPICS = {
  wagers: 'jackpot.wagers.v1',
  poolUpdates: 'jackpot.pool-updates.v1',
  awards: 'jackpot.awards.v1',
  wagersDlq: 'jackpot.wagers.dlq.v1',
} as const;

/**
 * The Kafka edge: whatever kafkajs throws (a lost broker, a request timeout, its retries run out)
 * becomes `AppError('KAFKA_UNAVAILABLE', retryable)`, so nothing past this edge handles a kafkajs
 * error type. Retryable because every send here is idempotent downstream (eventIds, win ids and
 * dead-letter ids dedupe), so trying again is always safe. An AppError passes through.
 */
export function fromKafkaError(e: unknown, context: string): AppError {
  if (e instanceof AppError) return e;
  return new AppError('KAFKA_UNAVAILABLE', `${context}: ${toError(e).message}`, {
    retryable: true,
    cause: e,
  });
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** The files `patches/kafkajs+2.2.4.patch` changes; each carries the marker `jackpot-pipeline`. */
export const KAFKAJS_PATCHED_FILES = [
  'src/protocol/decoder.js',
  'src/protocol/encoder.js',
  'src/protocol/recordBatch/record/v0/decoder.js',
  'src/producer/groupMessagesPerPartition.js',
  'src/protocol/requests/produce/v3/request.js',
] as const;

/**
 * The files of the installed kafkajs that lack our patch (patches/README.md): all of them after
 * an install that skipped its scripts (`npm ci --ignore-scripts`), none after `npm ci`. Unpatched,
 * everything still works, but producing costs about twice the CPU.
 */
export function kafkajsUnpatchedFiles(): string[] {
  const dir = createRequire(import.meta.url)
    .resolve('kafkajs')
    .replace(/index\.js$/, '');
  return KAFKAJS_PATCHED_FILES.filter((f) => {
    try {
      return !readFileSync(dir + f, 'utf8').includes('jackpot-pipeline');
    } catch {
      return true;
    }
  });
}

let patchChecked = false;

/**
 * One place that builds a kafkajs client, so the client library stays behind our own small
 * surface and its logs go through pino. Retries: 8 from 300 ms, exponential (kafkajs' default is
 * 5), about a minute before a request fails; connection timeouts (3 s) are short because
 * everything is local or in-cluster.
 */
export function createKafka(opts: {
  brokers: readonly string[];
  clientId: string;
  logger?: Logger;
  /** TLS and SASL (CommonConfig.kafkaSecurity); plaintext without authentication when absent. */
  security?: KafkaSecurity;
  /** Retries of a connection or request, 8 by default (about a minute of backoff from 300 ms). */
  retries?: number;
}): Kafka {
  const log = opts.logger?.child({ component: 'kafkajs' });
  const { ssl, sasl } = opts.security ?? {};
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: opts.retries ?? 8 },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
  };
  // rejectUnauthorized stays Node's default (true): a broker whose certificate does not verify is refused.
  if (ssl !== undefined) config.ssl = ssl.ca === undefined ? true : { ca: [ssl.ca] };
  if (sasl !== undefined) {
    const { username, password } = sasl;
    config.sasl =
      sasl.mechanism === 'scram-sha-256'
        ? { mechanism: 'scram-sha-256', username, password }
        : { mechanism: 'scram-sha-512', username, password };
  }
  if (log !== undefined && !patchChecked) {
    patchChecked = true;
    const unpatched = kafkajsUnpatchedFiles();
    if (unpatched.length > 0)
      log.warn(
        { unpatched },
        'kafkajs is not patched (an install that skipped its scripts?): it works, but producing costs about twice the CPU; run npm ci (patches/README.md)',
      );
  }
  if (log) {
    config.logCreator =
      () =>
      ({ level, log: entry }) => {
        const { message, ...extra } = entry;
        log[LEVELS[level] ?? 'info'](extra, message);
      };
  }
  return new Kafka(config);
}
