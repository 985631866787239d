/**
 * The Kafka path: the team's wager producer (acks = all, idempotent), so the load generator
 * exercises the same client code the gateway uses. Invalid events go through `sendRaw` as the
 * exact bytes the generator made.
 */
import type { Kafka } from 'kafkajs';
import { toError } from '../../shared/src/errors.js';
import type { Logger } from '../../shared/src/logger.js';
import { createWagerProducer, type WagerProducer } from '../../shared/src/producer.js';
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
  /** The producer library's batching (see shared/src/producer.ts); its defaults when absent. */
  readonly maxBatchMessages?: number;
  readonly lingerMs?: number;
  /**
   * Independent producers (each its own connection and producer id). The shared producer keeps one
   * batch in flight, so one producer tops out at one batch a broker round trip; several stand for
   * several game servers. Wagers are spread by playerId, so one player's wagers keep their order.
   * Default 1.
   */
  readonly producers?: number;
  readonly logger?: Logger;
}

/** FNV-1a of the key: which producer a player's wagers go through. */
export function shard(key: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

export interface KafkaSender extends Sender {
  /**
   * A message encoded beforehand (pre-generated traffic): its key's bytes and value, through
   * producer `producer` (the `shard` of its key). A valid wager (`retry`) is retried as `send`
   * retries it; an invalid event never is.
   */
  sendEncoded(producer: number, key: Buffer, value: Buffer, retry: boolean): Promise<Outcome>;
}

const OK: Outcome = { ok: true };
const ok = (): Outcome => OK;

export function createKafkaSender(opts: KafkaSenderOptions): KafkaSender {
  const count = opts.producers ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`producers must be a positive integer, got ${count}`);
  const producers = Array.from({ length: count }, () =>
    createWagerProducer({
      kafka: opts.kafka,
      ...(opts.topic === undefined ? {} : { topic: opts.topic }),
      ...(opts.maxBufferedMessages === undefined ? {} : { maxBufferedMessages: opts.maxBufferedMessages }),
      ...(opts.maxBatchMessages === undefined ? {} : { maxBatchMessages: opts.maxBatchMessages }),
      ...(opts.lingerMs === undefined ? {} : { lingerMs: opts.lingerMs }),
      ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    }),
  );
  const pick = (key: string): WagerProducer =>
    producers[count === 1 ? 0 : shard(key, count)] as WagerProducer;
  const retryForMs = opts.retryForMs ?? 30_000;
  let retries = 0;
  let closing = false;

  const failed = (e: unknown): Outcome => ({
    ok: false,
    code: 'kafka_unavailable',
    message: toError(e).message,
  });

  /** After a first failure: again with backoff until `retryForMs` from the first attempt. */
  async function retrySend(
    p: WagerProducer,
    key: Buffer,
    value: Buffer,
    deadline: number,
    first: unknown,
  ): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      if (closing || Date.now() >= deadline) return failed(first);
      retries++;
      await sleep(backoffMs(attempt));
      try {
        await p.sendRaw(key, value);
        return OK;
      } catch (e) {
        if (closing || Date.now() >= deadline) return failed(e);
      }
    }
  }

  return {
    sendEncoded(producer, key, value, retry) {
      const p = producers[producer] as WagerProducer;
      const deadline = retry ? Date.now() + retryForMs : 0;
      // No async function and no closure on the way that succeeds: one promise and a shared handler.
      return p
        .sendRaw(key, value)
        .then(ok, (e: unknown) => (retry ? retrySend(p, key, value, deadline, e) : failed(e)));
    },
    async connect() {
      await Promise.all(producers.map((p) => p.connect()));
    },
    async send(event): Promise<Outcome> {
      if (event.kind === 'invalid') {
        try {
          await pick(event.key).sendRaw(event.key, Buffer.from(event.value, 'utf8'));
          return { ok: true };
        } catch (e) {
          return { ok: false, code: 'kafka_unavailable', message: toError(e).message };
        }
      }
      const deadline = Date.now() + retryForMs;
      for (let attempt = 0; ; attempt++) {
        try {
          await pick(event.wager.playerId).send(event.wager);
          return { ok: true };
        } catch (e) {
          if (closing || Date.now() >= deadline)
            return { ok: false, code: 'kafka_unavailable', message: toError(e).message };
          retries++;
          await sleep(backoffMs(attempt));
        }
      }
    },
    async flush() {
      await Promise.all(producers.map((p) => p.flush()));
    },
    async close() {
      closing = true;
      await Promise.all(producers.map((p) => p.disconnect()));
    },
    stats: () => ({ retries, throttled: 0 }),
    fatal: () => null,
  };
}
