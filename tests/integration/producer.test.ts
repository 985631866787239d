/**
 * The wager producer on the real broker: every acknowledged wager is in the topic, once, keyed by
 * its player. Needs a broker on KAFKA_BROKERS (npm run kafka:start).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Kafka } from 'kafkajs';
import { AppError } from '../../shared/src/errors.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { kafkaForTests, randomTopic, readTopic } from '../helpers/kafka.js';

const TEST_TIMEOUT = 60_000;

void test(
  '5,000 wagers sent concurrently are all in the topic, once, keyed by playerId',
  { timeout: TEST_TIMEOUT },
  async () => {
    const kafka = kafkaForTests();
    const topic = await randomTopic('producer', 3);
    const producer = createWagerProducer({ kafka, topic, maxBatchMessages: 500 });
    await producer.connect();

    const wagers: WagerMessage[] = Array.from({ length: 5000 }, (_, i) => ({
      eventId: randomUUID(),
      occurredAt: new Date(Date.UTC(2026, 10, 29, 12, 0, 0, i % 1000)).toISOString(),
      gameId: `game-${i % 7}`,
      playerId: `p-${i % 211}`,
      currency: 'EUR',
      amountMinor: 1 + i,
    }));
    await Promise.all(wagers.map((w) => producer.send(w)));
    await producer.disconnect();

    const received = await readTopic(kafka, topic, (got) => got.length >= wagers.length);
    assert.equal(received.length, wagers.length);
    const byEventId = new Map<string, { wager: WagerMessage; key: string | undefined }>();
    for (const m of received) {
      const wager = JSON.parse(m.value?.toString('utf8') ?? 'null') as WagerMessage;
      byEventId.set(wager.eventId, { wager, key: m.key?.toString('utf8') });
    }
    assert.equal(byEventId.size, wagers.length, 'no wager twice');
    for (const w of wagers) {
      const got = byEventId.get(w.eventId);
      assert.deepEqual(got?.wager, w);
      assert.equal(got?.key, w.playerId);
    }
  },
);

void test('sendRaw forwards bytes and a null key unchanged', { timeout: TEST_TIMEOUT }, async () => {
  const kafka = kafkaForTests();
  const topic = await randomTopic('producer-raw', 1);
  const producer = createWagerProducer({ kafka, topic });
  await producer.connect();
  await Promise.all([
    producer.sendRaw(null, Buffer.from('not json {')),
    producer.sendRaw('k', Buffer.from([0xff, 0xfe])),
  ]);
  await producer.disconnect();

  const received = await readTopic(kafka, topic, (got) => got.length >= 2);
  assert.deepEqual(
    received.map((m) => [m.key, m.value]),
    [
      [null, Buffer.from('not json {')],
      [Buffer.from('k'), Buffer.from([0xff, 0xfe])],
    ],
  );
});

void test(
  'a broker that cannot be reached makes connect reject instead of hanging',
  { timeout: TEST_TIMEOUT },
  async () => {
    const kafka = new Kafka({
      clientId: 'unreachable',
      brokers: ['127.0.0.1:1'],
      connectionTimeout: 200,
      retry: { retries: 0 },
      logLevel: 0,
    });
    const producer = createWagerProducer({ kafka, retry: { retries: 0 } });
    await assert.rejects(producer.connect());
    assert.equal(producer.isConnected(), false);
    await assert.rejects(
      producer.send({
        eventId: randomUUID(),
        occurredAt: '2026-11-29T12:00:00Z',
        gameId: 'g',
        playerId: 'p',
        currency: 'EUR',
        amountMinor: 1,
      }),
      (e: unknown) => e instanceof AppError && e.code === 'KAFKA_UNAVAILABLE',
    );
    await producer.disconnect();
  },
);
