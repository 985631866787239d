/**
 * The Kafka path: the team's wager producer (acks = all, idempotent), so the load generator
 * exercises the same client code the gateway uses. Invalid events go through `sendRaw` as the
 * exact bytes the generator made.
 */
import type { Kafka } from 'kafkajs';
import { toError } from '../../shared/src/errors.js';
import type { Logger } from '../../shared/src/logger.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { backoffMs, sleep, type Outcome, type Sender } from './sender.js';

export interface KafkaSenderOptions {
  readonly kafka: Kafka;
  readonly topic?: string;
  /**
   * How long a valid wager is retried after the producer rejected it (a broker outage or the
   * producer being replaced). 30 s: longer than the producer's own ~10 s of retries plus a
   * reconnect. Invalid events are never retried, so each becomes exactly one dead letter.
   */
  readonly retryForMs?: number;
  readonly maxBufferedMessages?: number;
  readonly logger?: Logger;
}

export function createKafkaSender(opts: KafkaSenderOptions): Sender {
  const producer = createWagerProducer({
    kafka: opts.kafka,
    ...(opts.topic === undefined ? {} : { topic: opts.topic }),
    ...(opts.maxBufferedMessages === undefined ? {} : { maxBufferedMessages: opts.maxBufferedMessages }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const retryForMs = opts.retryForMs ?? 30_000;
  let retries = 0;
  let closing = false;

  return {
    connect: () => producer.connect(),
    async send(event): Promise<Outcome> {
      if (event.kind === 'invalid') {
        try {
          await producer.sendRaw(event.key, Buffer.from(event.value, 'utf8'));
          return { ok: true };
        } catch (e) {
          return { ok: false, code: 'kafka_unavailable', message: toError(e).message };
        }
      }
      const deadline = Date.now() + retryForMs;
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.send(event.wager);
          return { ok: true };
        } catch (e) {
          if (closing || Date.now() >= deadline)
            return { ok: false, code: 'kafka_unavailable', message: toError(e).message };
          retries++;
          await sleep(backoffMs(attempt));
        }
      }
    },
    flush: () => producer.flush(),
    async close() {
      closing = true;
      await producer.disconnect();
    },
    stats: () => ({ retries, throttled: 0 }),
    fatal: () => null,
  };
}
