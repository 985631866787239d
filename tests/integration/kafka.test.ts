/**
 * The broker we pin (infra/kafka-jars.ts) against the client we use (kafkajs 2.2.4): the features
 * the pipeline relies on, on the real broker. Needs a broker on KAFKA_BROKERS (npm run
 * kafka:start). Each test has its own topic and consumer group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';

const TEST_TIMEOUT = 30_000;

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

interface Received {
  readonly value: string;
  readonly partition: number;
  readonly offset: string;
}

/** Subscribes from the beginning and records every message it is handed. */
async function startRecording(consumer: Consumer, topic: string, into: Received[]): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }: EachMessagePayload) => {
      into.push({ value: message.value?.toString('utf8') ?? '', partition, offset: message.offset });
      return Promise.resolve();
    },
  });
}

void test(
  'a consumer group reads every produced message and commits its offsets',
  { timeout: TEST_TIMEOUT },
  async () => {
    const kafka = kafkaForTests();
    const topic = await randomTopic('roundtrip', 3);
    const groupId = randomGroupId();
    const n = 300;

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: range(n).map((i) => ({ key: `player-${i % 37}`, value: `m${i}` })),
    });

    const consumer = kafka.consumer({ groupId, ...FAST_GROUP });
    const received: Received[] = [];
    await startRecording(consumer, topic, received);
    await waitFor(`${n} messages`, () => new Set(received.map((r) => r.value)).size === n);
    assert.deepEqual(new Set(received.map((r) => r.value)), new Set(range(n).map((i) => `m${i}`)));
    assert.equal(new Set(received.map((r) => r.partition)).size, 3, 'keys spread over all 3 partitions');

    // kafkajs commits after each processed batch: the group's committed offsets reach the end
    // of every partition (a restarted member would resume there, not re-read everything).
    const admin = kafka.admin();
    await admin.connect();
    let total = 0;
    const deadline = Date.now() + 10_000;
    while (total !== n && Date.now() < deadline) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      total = (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      if (total !== n) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(total, n, 'the group committed the end offset of every partition');
  },
);

void test(
  'a group rebalances when a member joins and when one leaves, and no message is lost',
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const kafka = kafkaForTests();
    const partitions = 4;
    const topic = await randomTopic('rebalance', partitions);
    const groupId = randomGroupId();
    const producer = kafka.producer();
    await producer.connect();

    const assignment = new Map<string, number[]>();
    const received = new Map<string, Received[]>([
      ['a', []],
      ['b', []],
    ]);
    const member = (name: string): Consumer => {
      const c = kafka.consumer({ groupId, ...FAST_GROUP });
      c.on(c.events.GROUP_JOIN, (e) =>
        assignment.set(name, [...(e.payload.memberAssignment[topic] ?? [])].sort()),
      );
      return c;
    };
    const seen = (): Set<string> => new Set([...received.values()].flat().map((r) => r.value));
    const produceBatch = async (batch: string): Promise<string[]> => {
      const values = range(40).map((i) => `${batch}-${i}`);
      // Explicit partitions: every partition gets messages, whoever owns it must read them.
      await producer.send({
        topic,
        acks: -1,
        messages: values.map((value, i) => ({ partition: i % partitions, value })),
      });
      return values;
    };
    const split = (): boolean => {
      const a = assignment.get('a') ?? [];
      const b = assignment.get('b') ?? [];
      return (
        a.length > 0 &&
        b.length > 0 &&
        new Set([...a, ...b]).size === partitions &&
        a.length + b.length === partitions
      );
    };

    // One member owns everything.
    const a = member('a');
    await startRecording(a, topic, received.get('a') ?? []);
    await waitFor('a to own all partitions', () => assignment.get('a')?.length === partitions);
    const first = await produceBatch('first');
    await waitFor('the first batch', () => first.every((v) => seen().has(v)));

    // A second member joins: the partitions are split between the two.
    const b = member('b');
    await startRecording(b, topic, received.get('b') ?? []);
    await waitFor('the partitions to be split between a and b', split);
    t.diagnostic(`split: a=${JSON.stringify(assignment.get('a'))} b=${JSON.stringify(assignment.get('b'))}`);
    const owner = new Map<number, string>();
    for (const [name, parts] of assignment) for (const p of parts) owner.set(p, name);
    const second = await produceBatch('second');
    await waitFor('the second batch', () => second.every((v) => seen().has(v)));
    for (const [name, list] of received) {
      const mine = list.filter((r) => r.value.startsWith('second-'));
      assert.ok(mine.length > 0, `${name} consumed part of the second batch`);
      for (const r of mine)
        assert.equal(owner.get(r.partition), name, `partition ${r.partition} was read by its owner`);
    }

    // b leaves: a takes every partition back and reads what is produced next.
    await b.disconnect();
    await waitFor('a to own all partitions again', () => assignment.get('a')?.length === partitions);
    const third = await produceBatch('third');
    await waitFor('the third batch', () => third.every((v) => seen().has(v)));
    assert.ok(
      third.every((v) => (received.get('a') ?? []).some((r) => r.value === v)),
      'a read the whole third batch',
    );
    for (const v of [...first, ...second, ...third]) assert.ok(seen().has(v), `${v} was consumed`);
  },
);

void test(
  'an idempotent producer (acks=-1) writes every message exactly once, in order',
  { timeout: TEST_TIMEOUT },
  async () => {
    const kafka = kafkaForTests();
    const topic = await randomTopic('idempotent', 2);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sends = 5;
    const perSend = 50;
    for (const s of range(sends)) {
      await producer.send({
        topic,
        acks: -1,
        messages: range(perSend, s * perSend).map((i) => ({ partition: i % 2, value: String(i) })),
      });
    }
    // kafkajs itself refuses weaker acks on an idempotent producer: the mode really is on.
    await assert.rejects(producer.send({ topic, acks: 1, messages: [{ value: 'x' }] }), /idempotent/i);

    const consumer = kafka.consumer({ groupId: randomGroupId(), ...FAST_GROUP });
    const received: Received[] = [];
    await startRecording(consumer, topic, received);
    const n = sends * perSend;
    await waitFor(`${n} messages`, () => received.length >= n);
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive right behind

    assert.equal(received.length, n, 'no duplicates');
    for (const partition of [0, 1]) {
      const mine = received.filter((r) => r.partition === partition);
      assert.deepEqual(
        mine.map((r) => Number(r.offset)),
        range(mine.length),
        `partition ${partition}: contiguous offsets from 0`,
      );
      assert.deepEqual(
        mine.map((r) => Number(r.value)),
        range(n).filter((i) => i % 2 === partition),
        `partition ${partition}: the order they were sent in`,
      );
    }
  },
);
