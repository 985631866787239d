/**
 * The producer's accumulator against a tiny fake of the kafkajs producer object: batching by size
 * and by time, flush, backpressure, and that each message's promise carries its batch's outcome.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kafka, ProducerRecord } from 'kafkajs';
import { AppError } from '../../shared/src/errors.js';
import { encodeWager, parseWager, type WagerMessage } from '../../shared/src/messages/wager.js';
import { KeyHashPartitioner } from '../../shared/src/partitioner.js';
import { createWagerProducer, newEventId, type ProducerOptions } from '../../shared/src/producer.js';

interface Deferred {
  readonly record: ProducerRecord;
  resolve(): void;
  reject(e: Error): void;
}

/** A kafkajs `Kafka` whose producers record every `send` and let the test decide when it completes. */
function fakeKafka(opts: { autoAck?: boolean; failConnect?: () => boolean } = {}) {
  const sends: Deferred[] = [];
  const producers: { connected: boolean; config: unknown }[] = [];
  const kafka = {
    producer(config: unknown) {
      const p = { connected: false, config };
      producers.push(p);
      return {
        connect() {
          if (opts.failConnect?.() === true) return Promise.reject(new Error('connect refused'));
          p.connected = true;
          return Promise.resolve();
        },
        disconnect() {
          p.connected = false;
          return Promise.resolve();
        },
        send(record: ProducerRecord) {
          return new Promise<unknown>((resolve, reject) => {
            sends.push({ record, resolve: () => resolve([]), reject });
            if (opts.autoAck === true) resolve([]);
          });
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, sends, producers };
}

function wager(i: number): WagerMessage {
  return {
    eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    occurredAt: '2026-11-29T12:00:00.123Z',
    gameId: 'starburst-eu',
    playerId: `p-${i}`,
    currency: 'EUR',
    amountMinor: 100 + i,
  };
}

const sizes = (sends: readonly Deferred[]): number[] => sends.map((s) => s.record.messages.length);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Real timers: lets a 0 ms linger fire and the promise chains after it run. */
const pause = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function connected(overrides: Partial<ProducerOptions> & { kafka: Kafka }) {
  const producer = createWagerProducer({ topic: 't', ...overrides });
  await producer.connect();
  return producer;
}

void describe('createWagerProducer', () => {
  void it('configures an idempotent producer with finite retries and sends acks = all without compression', async () => {
    const { kafka, sends, producers } = fakeKafka({ autoAck: true });
    const producer = await connected({ kafka, lingerMs: 0 });
    await producer.send(wager(1));
    assert.deepEqual(producers[0]?.config, {
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 5 },
      createPartitioner: KeyHashPartitioner,
    });
    assert.equal(sends[0]?.record.acks, -1);
    assert.equal(sends[0]?.record.compression, 0);
    assert.equal(sends[0]?.record.topic, 't');
    await producer.disconnect();
  });

  void it('keys by playerId and writes only the contract fields', async () => {
    const { kafka, sends } = fakeKafka({ autoAck: true });
    const producer = await connected({ kafka, lingerMs: 0 });
    await producer.send({ ...wager(7), occurredAtMs: 1 } as WagerMessage);
    const message = sends[0]?.record.messages[0];
    assert.equal(message?.key, 'p-7');
    assert.deepEqual(JSON.parse(String(message?.value)), wager(7));
    assert.deepEqual(Object.keys(JSON.parse(encodeWager(wager(1)).toString('utf8')) as object), [
      'eventId',
      'occurredAt',
      'gameId',
      'playerId',
      'currency',
      'amountMinor',
    ]);
    await producer.disconnect();
  });

  void it('sends a full batch at once, one batch in flight, and the rest when the previous one completes', async () => {
    const { kafka, sends } = fakeKafka();
    const producer = await connected({ kafka, maxBatchMessages: 3, lingerMs: 60_000 });
    const results = Array.from({ length: 7 }, (_, i) => producer.send(wager(i)));
    await tick();
    assert.deepEqual(sizes(sends), [3], 'the first full batch leaves without waiting for the linger');
    sends[0]?.resolve();
    await Promise.all(results.slice(0, 3));
    await tick();
    assert.deepEqual(sizes(sends), [3, 3], 'the next full batch follows as soon as the first is acked');
    sends[1]?.resolve();
    await tick();
    assert.deepEqual(sizes(sends), [3, 3], 'a partial batch waits for the linger');
    const flushed = producer.flush();
    await tick();
    assert.deepEqual(sizes(sends), [3, 3, 1]);
    sends[2]?.resolve();
    await flushed;
    await Promise.all(results);
    assert.deepEqual(
      sends.flatMap((s) => s.record.messages.map((m) => m.key)),
      Array.from({ length: 7 }, (_, i) => `p-${i}`),
      'messages leave in the order they were sent',
    );
    await producer.disconnect();
  });

  void it('sends a partial batch once the linger expires', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { kafka, sends } = fakeKafka({ autoAck: true });
    const producer = await connected({ kafka, maxBatchMessages: 100, lingerMs: 50 });
    const results = [producer.send(wager(1)), producer.send(wager(2))];
    await tick();
    t.mock.timers.tick(49);
    await tick();
    assert.deepEqual(sizes(sends), []);
    t.mock.timers.tick(1);
    await tick();
    assert.deepEqual(sizes(sends), [2]);
    await Promise.all(results);
    await producer.disconnect();
  });

  void it('rejects every message of a failed batch with a retryable KAFKA_UNAVAILABLE and resolves the others', async () => {
    const { kafka, sends } = fakeKafka();
    const producer = await connected({
      kafka,
      maxBatchMessages: 2,
      lingerMs: 60_000,
      reconnectInitialDelayMs: 60_000,
    });
    const first = [producer.send(wager(1)), producer.send(wager(2))];
    const second = [producer.send(wager(3)), producer.send(wager(4))];
    await tick();
    sends[0]?.resolve();
    await Promise.all(first);
    await tick();
    sends[1]?.reject(new Error('broker gone'));
    for (const p of second) {
      await assert.rejects(
        p,
        (e: unknown) =>
          e instanceof AppError &&
          e.code === 'KAFKA_UNAVAILABLE' &&
          e.retryable &&
          /broker gone/.test(e.message),
      );
    }
    assert.equal(producer.isConnected(), false);
    await assert.rejects(
      producer.send(wager(5)),
      (e: unknown) => e instanceof AppError && e.code === 'KAFKA_UNAVAILABLE',
    );
    await producer.disconnect();
  });

  void it('replaces a failed kafkajs producer with a new one in the background and sends again', async () => {
    let refuse = false;
    const { kafka, sends, producers } = fakeKafka({ failConnect: () => refuse });
    const producer = await connected({ kafka, lingerMs: 0, reconnectInitialDelayMs: 5 });
    const lost = producer.send(wager(1));
    await pause();
    refuse = true;
    sends[0]?.reject(new Error('broker gone'));
    await assert.rejects(lost);
    assert.equal(producers[0]?.connected, false, 'the failed producer is closed');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(producer.isConnected(), false, 'still down while connecting fails');
    refuse = false;
    for (let i = 0; i < 100 && !producer.isConnected(); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(producer.isConnected(), true);
    assert.ok(producers.length >= 3, 'each attempt is a new producer (a new producer id)');
    const again = producer.send(wager(2));
    await pause();
    sends[1]?.resolve();
    await again;
    await producer.disconnect();
  });

  void it('makes send wait while maxBufferedMessages are queued or in flight', async () => {
    const { kafka, sends } = fakeKafka();
    const producer = await connected({ kafka, maxBatchMessages: 2, lingerMs: 0, maxBufferedMessages: 2 });
    const a = producer.send(wager(1));
    const b = producer.send(wager(2));
    let thirdQueued = false;
    const c = producer.send(wager(3)).then(() => (thirdQueued = true));
    await pause();
    assert.deepEqual(sizes(sends), [2]);
    assert.equal(thirdQueued, false);
    sends[0]?.resolve();
    await Promise.all([a, b]);
    await pause();
    assert.deepEqual(sizes(sends), [2, 1], 'the waiting send went out once there was room');
    sends[1]?.resolve();
    await c;
    await producer.disconnect();
  });

  void it('lets waiting sends into the queue in the order they were made, and refuses them on disconnect', async () => {
    const { kafka, sends } = fakeKafka({ autoAck: true });
    const producer = await connected({ kafka, maxBatchMessages: 2, lingerMs: 0, maxBufferedMessages: 3 });
    // 2,000 sends at once: all but 3 wait. Each settled batch lets the next ones in, oldest first.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => producer.send(wager(i))));
    const sent = sends.flatMap((s) => s.record.messages.map((m) => m.key));
    assert.deepEqual(
      sent,
      Array.from({ length: 2000 }, (_, i) => `p-${i}`),
    );
    assert.ok(sends.every((s) => s.record.messages.length <= 2));
    await producer.disconnect();

    const held = fakeKafka();
    const p2 = await connected({
      kafka: held.kafka,
      maxBatchMessages: 1,
      lingerMs: 0,
      maxBufferedMessages: 1,
    });
    const first = p2.send(wager(1));
    const blocked = p2.send(wager(2));
    await pause();
    const closing = p2.disconnect();
    await assert.rejects(blocked, /closed/);
    held.sends[0]?.resolve();
    await first;
    await closing;
    assert.deepEqual(sizes(held.sends), [1], 'the refused send never reached Kafka');
  });

  void it('disconnect flushes what is queued and then refuses new sends', async () => {
    const { kafka, sends, producers } = fakeKafka({ autoAck: true });
    const producer = await connected({ kafka, lingerMs: 60_000 });
    const pending = [producer.send(wager(1)), producer.send(wager(2))];
    await producer.disconnect();
    await Promise.all(pending);
    assert.deepEqual(sizes(sends), [2]);
    assert.equal(producers[0]?.connected, false);
    await assert.rejects(producer.send(wager(3)), /closed/);
    await assert.rejects(producer.connect(), /closed/);
  });

  void it('refuses to send before connect', async () => {
    const { kafka } = fakeKafka();
    const producer = createWagerProducer({ kafka });
    await assert.rejects(producer.send(wager(1)), /not connected/);
    assert.equal(producer.isConnected(), false);
  });

  void it('reports a failed connect to the caller', async () => {
    const { kafka } = fakeKafka({ failConnect: () => true });
    const producer = createWagerProducer({ kafka });
    await assert.rejects(producer.connect(), /connect refused/);
    assert.equal(producer.isConnected(), false);
  });
});

void describe('newEventId (UUIDv7)', () => {
  void it('puts the millisecond time in the first 48 bits, version 7 and the RFC variant', () => {
    for (const ms of [0, 1, 1_764_547_200_123, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1]) {
      const id = newEventId(ms);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms, id);
    }
  });

  void it('sorts by time as text (and so as a Postgres uuid), and never repeats', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => newEventId(1_764_547_200_000 + Math.floor(i / 100)));
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 100; i < ids.length; i += 100) assert.ok((ids[i - 1] as string) < (ids[i] as string));
  });

  void it('is a valid wager eventId', () => {
    const wager = {
      eventId: newEventId(),
      occurredAt: new Date().toISOString(),
      gameId: 'g',
      playerId: 'p',
      currency: 'EUR',
      amountMinor: 100,
    };
    const parsed = parseWager(encodeWager(wager), Date.now());
    assert.equal(parsed.ok, true);
  });
});
