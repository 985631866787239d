/**
 * Test isolation on the real broker: every test gets its own topic and consumer group, and
 * every client and topic created through these helpers is closed or deleted after the test
 * file (node:test `after`, registered when this module is first imported by a test file).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { after } from 'node:test';
import type { Admin, Consumer, ConsumerConfig, Kafka, KafkaMessage, Producer, ProducerConfig } from 'kafkajs';
import { DEFAULT_KAFKA_BROKERS, list } from '../../shared/src/config.js';
import { createKafka } from '../../shared/src/kafka.js';
import { createTopic } from '../../infra/topics.js';

export const brokers: readonly string[] = list(process.env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);

/**
 * Short group timeouts so that joins, leaves and rebalances take seconds, not the default
 * 30 s session. The broker allows sessions down to 1 s (group.min.session.timeout.ms).
 */
export const FAST_GROUP: Pick<
  ConsumerConfig,
  'sessionTimeout' | 'heartbeatInterval' | 'rebalanceTimeout' | 'maxWaitTimeInMs'
> = {
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10000,
  maxWaitTimeInMs: 250,
};

type Closable = { disconnect(): Promise<void> };
const clients = new Set<Closable>();
const topics = new Set<string>();

let registered = false;
function registerCleanup(): void {
  if (registered) return;
  registered = true;
  after(cleanupKafka);
}
registerCleanup();

/** A short random suffix: topics and groups of parallel test files never collide. */
export function uniqueSuffix(): string {
  return randomUUID().replace(/-/g, '').slice(0, 12);
}

export function randomGroupId(prefix = 'test'): string {
  return `${prefix}.group.${uniqueSuffix()}`;
}

/**
 * A kafkajs client whose producers, consumers and admins are tracked and disconnected after
 * the test file. Use it instead of `createKafka` in tests.
 */
export function kafkaForTests(clientId = `test-${uniqueSuffix()}`): Kafka {
  const kafka = createKafka({ brokers, clientId });
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  const admin = kafka.admin.bind(kafka);
  kafka.producer = (config?: ProducerConfig): Producer => track(producer(config));
  kafka.consumer = (config: ConsumerConfig): Consumer => track(consumer(config));
  kafka.admin = (...args: Parameters<Kafka['admin']>): Admin => track(admin(...args));
  return kafka;
}

function track<T extends Closable>(client: T): T {
  clients.add(client);
  return client;
}

let sharedAdmin: Promise<Admin> | undefined;
function adminForHelpers(): Promise<Admin> {
  sharedAdmin ??= (async () => {
    const admin = kafkaForTests('test-helpers').admin();
    await admin.connect();
    return admin;
  })();
  return sharedAdmin;
}

/**
 * Creates a uniquely named topic (`test.<prefix>.<random>`), waits for its leaders, and
 * returns its name. The topic is deleted after the test file.
 */
export async function randomTopic(
  prefix: string,
  partitions = 1,
  configs?: Readonly<Record<string, string>>,
): Promise<string> {
  const topic = `test.${prefix}.${uniqueSuffix()}`;
  const admin = await adminForHelpers();
  topics.add(topic);
  await createTopic(admin, { topic, partitions, ...(configs === undefined ? {} : { configs }) });
  return topic;
}

/** Bounds a cleanup step: a wedged client must not hang the whole test run. */
async function bounded(label: string, p: Promise<unknown>, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } catch (e) {
    process.stderr.write(`kafka test cleanup: ${e instanceof Error ? e.message : String(e)}\n`);
  } finally {
    clearTimeout(timer);
  }
}

/** Disconnects every tracked client and deletes every topic made by `randomTopic`. */
async function cleanupKafka(): Promise<void> {
  const admin = sharedAdmin;
  sharedAdmin = undefined;
  const others = [...clients];
  clients.clear();
  const helperAdmin = admin === undefined ? undefined : await admin.catch(() => undefined);
  await Promise.all(
    others.filter((c) => c !== helperAdmin).map((c) => bounded('disconnect', c.disconnect())),
  );
  if (topics.size > 0) {
    const names = [...topics];
    topics.clear();
    if (helperAdmin !== undefined)
      await bounded('deleteTopics', helperAdmin.deleteTopics({ topics: names, timeout: 10_000 }));
  }
  if (helperAdmin !== undefined) await bounded('disconnect', helperAdmin.disconnect());
}

/**
 * Reads `topic` from the beginning with a fresh consumer group until `done(messages)` holds or
 * `timeoutMs` passes, then `settleMs` more, so that a message that should not be there (a copy)
 * has time to show up. Returns what arrived; the caller asserts on it.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  done: (got: readonly KafkaMessage[]) => boolean,
  opts: { timeoutMs?: number; settleMs?: number } = {},
): Promise<KafkaMessage[]> {
  const got: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: randomGroupId('read'), ...FAST_GROUP });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        got.push(message);
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    while (!done(got) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 500));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/**
 * Sends `events` to `topic` as one idempotent producer would (acks = all, one request in flight,
 * 500 a request), in order, and disconnects it.
 */
export async function produceEvents(
  kafka: Kafka,
  topic: string,
  events: readonly { readonly key: string | null; readonly value: Buffer | string }[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: events.slice(i, i + 500).map((e) => ({ key: e.key, value: e.value })),
    });
  }
  await producer.disconnect();
}

/** How many event ids the database holds as applied (the duplicate check's rows). */
export const appliedEventCount = async (db: { query: pg.Pool['query'] }): Promise<number> =>
  Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.applied_events')).rows[0]?.n);
