/**
 * The projector's pool-updates consumer when kafkajs gives up on it (a crash it will not restart,
 * as after a broker outage longer than its retries): a new consumer replaces it on the real
 * broker, its join asks for Postgres to be read again, and updates flow again.
 *
 * The broker cannot be taken away from the other test files here, so kafkajs' "gave up" is the
 * one thing simulated: the crash listener the update consumer registered is called with
 * `restart: false`, as kafkajs calls it. Everything after (the disconnect, the backoff, the new
 * consumer, its join and its messages) is real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Consumer, ConsumerCrashEvent, ConsumerConfig } from 'kafkajs';
import { createLogger } from '../../shared/src/logger.js';
import { createUpdateConsumer } from '../../services/projector/src/update-consumer.js';
import { eventually } from '../helpers/fixtures.js';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';

const logger = createLogger('update-consumer-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

void test('a consumer kafkajs gave up on is replaced; the new one rejoins, re-reads Postgres and reads on', async () => {
  const topic = await randomTopic('update-consumer', 2);
  const kafka = kafkaForTests();
  // Every consumer the update consumer makes, with the crash listener it registered on it.
  const made: { consumer: Consumer; crash: (e: ConsumerCrashEvent) => void }[] = [];
  const consumer = kafka.consumer.bind(kafka);
  kafka.consumer = (config: ConsumerConfig): Consumer => {
    const c = consumer({ ...config, ...FAST_GROUP });
    const entry = { consumer: c, crash: (_e: ConsumerCrashEvent): void => undefined };
    made.push(entry);
    const on = c.on.bind(c) as (event: string, listener: (e: ConsumerCrashEvent) => void) => () => void;
    c.on = ((event: string, listener: (e: ConsumerCrashEvent) => void) => {
      if (event === c.events.CRASH) entry.crash = listener;
      return on(event, listener);
    }) as Consumer['on'];
    return c;
  };

  const seen: string[] = [];
  let rejoins = 0;
  const updates = createUpdateConsumer({
    kafka,
    topic,
    groupId: randomGroupId('update-consumer'),
    logger,
    onMessage: (value) => seen.push(value?.toString() ?? ''),
    onRejoin: () => rejoins++,
  });
  const producer = kafka.producer();
  await producer.connect();
  const send = (value: string) => producer.send({ topic, acks: -1, messages: [{ value }] });
  try {
    await updates.start();
    assert.ok(await eventually(() => Promise.resolve(updates.notRunningReason() === null), 20_000), 'joined');
    await send('before');
    assert.ok(
      await eventually(() => Promise.resolve(seen.includes('before')), 20_000),
      'read before the crash',
    );

    const first = made[0];
    assert.ok(first !== undefined);
    first.crash({
      type: 'consumer.crash',
      id: '0',
      timestamp: Date.now(),
      payload: { error: new Error('Failed to find group coordinator'), groupId: 'g', restart: false },
    });
    assert.match(updates.notRunningReason() ?? '', /crashed/);

    assert.ok(
      await eventually(
        () => Promise.resolve(made.length === 2 && updates.notRunningReason() === null),
        30_000,
      ),
      `replaced and joined (consumers made: ${made.length}, reason: ${updates.notRunningReason()})`,
    );
    assert.equal(rejoins, 1, 'the new consumer asks for Postgres to be read again, once');
    await send('after');
    assert.ok(
      await eventually(() => Promise.resolve(seen.includes('after')), 20_000),
      'the new consumer reads',
    );
    assert.deepEqual(
      seen.filter((v) => v === 'before'),
      ['before'],
      'the replacement starts at the end: nothing read twice',
    );

    // A second crash of the replaced consumer is ignored: only the current one is replaced.
    first.crash({
      type: 'consumer.crash',
      id: '1',
      timestamp: Date.now(),
      payload: { error: new Error('late'), groupId: 'g', restart: false },
    });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(made.length, 2);
  } finally {
    await producer.disconnect();
    await updates.stop();
  }
});
