import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Logger } from './logger.js';

/** The topics of the contract. */
export const TOPICS = {
  wagers: 'jackpot.wagers.v1',
  poolUpdates: 'jackpot.pool-updates.v1',
  awards: 'jackpot.awards.v1',
  wagersDlq: 'jackpot.wagers.dlq.v1',
} as const;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * One place that builds a kafkajs client, so the client library stays behind our own small
 * surface and its logs go through pino. Retries: kafkajs' default (5 tries, 300 ms initial,
 * exponential) is kept for requests; connection timeouts are short because everything is local
 * or in-cluster.
 */
export function createKafka(opts: { brokers: readonly string[]; clientId: string; logger?: Logger }): Kafka {
  const log = opts.logger?.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: 8 },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
  };
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
