/**
 * The Kafka client's transport security against a real broker of our own: a second single-node
 * broker (own ports, own data directory, stopped after the file) with SCRAM-SHA-256 users created
 * at format time, a SASL_PLAINTEXT listener and a SASL_SSL listener whose certificate comes from a
 * throwaway CA made here with openssl. Clients are built the way the services build theirs:
 * `kafkaSecurity(env)` from the environment variables, then `createKafka`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { kafkaSecurity } from '../../shared/src/config.js';
import { createKafka } from '../../shared/src/kafka.js';
import { startKafka, stopKafka } from '../../infra/kafka.js';
import { makeCertificates, pemKeystore } from '../helpers/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'jackpot-kafka-sasl-'));
const USERS = [
  { name: 'broker', password: 'broker-secret' },
  { name: 'alice', password: 'alice-secret' },
];

/** A port where it and the next two are free: SASL_PLAINTEXT, controller, SASL_SSL. */
async function freePortRun(): Promise<number> {
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await free(base)) && (await free(base + 1)) && (await free(base + 2))) return base;
  }
  throw new Error('no three consecutive free ports found');
}

const certs = makeCertificates(dir, 'broker', 'IP:127.0.0.1,DNS:localhost');
const keystoreFile = pemKeystore(dir, certs);
const port = await freePortRun();
const saslBrokers = [`127.0.0.1:${port}`];
const tlsBrokers = [`127.0.0.1:${port + 2}`];
const log = (line: string): void => {
  if (process.env['TEST_LOG_LEVEL'] !== undefined) process.stderr.write(`${line}\n`);
};

before(async () => {
  await startKafka({
    brokers: saslBrokers,
    dir,
    log,
    sasl: { mechanism: 'SCRAM-SHA-256', users: USERS, tlsKeystoreFile: keystoreFile },
  });
});

after(async () => {
  await stopKafka({ brokers: saslBrokers, dir, log });
  rmSync(dir, { recursive: true, force: true });
});

const SASL_ENV = {
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
  KAFKA_SASL_USERNAME: 'alice',
  KAFKA_SASL_PASSWORD: 'alice-secret',
};

/**
 * A client configured from environment variables, as every service's is. `retries: 1` for the
 * refusals: kafkajs retries a failed TLS handshake like any connection error (a minute by default).
 */
function client(brokers: readonly string[], env: Record<string, string>, retries?: number): Kafka {
  return createKafka({
    brokers,
    security: kafkaSecurity(env),
    clientId: `sasl-test-${randomUUID().slice(0, 8)}`,
    ...(retries === undefined ? {} : { retries }),
  });
}

/** Creates a topic, sends three messages and reads them back with a consumer group. */
async function roundTrip(kafka: Kafka): Promise<string[]> {
  const topic = `test.sasl.${randomUUID().slice(0, 12)}`;
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({
    groupId: `test.sasl.${randomUUID().slice(0, 12)}`,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 250,
  });
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: ['a', 'b', 'c'].map((value) => ({ key: 'k', value })) });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        got.push(message.value?.toString() ?? '');
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + 30_000;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return got;
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }
}

/** The error connecting an admin gives, or undefined when it connected (and then disconnected). */
async function connectError(kafka: Kafka): Promise<Error | undefined> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return undefined;
  } catch (e) {
    return e as Error;
  } finally {
    await admin.disconnect();
  }
}

void test('SCRAM-SHA-256 over SASL_PLAINTEXT: a client with the right password produces and consumes', async () => {
  assert.deepEqual(await roundTrip(client(saslBrokers, SASL_ENV)), ['a', 'b', 'c']);
});

void test('a wrong password is refused, and so is a client without credentials', async () => {
  const wrong = await connectError(
    client(saslBrokers, { ...SASL_ENV, KAFKA_SASL_PASSWORD: 'not-the-password' }),
  );
  assert.ok(wrong, 'a wrong password must not connect');
  assert.equal(wrong.name, 'KafkaJSSASLAuthenticationError', wrong.message);
  const unknown = await connectError(client(saslBrokers, { ...SASL_ENV, KAFKA_SASL_USERNAME: 'mallory' }));
  assert.equal(unknown?.name, 'KafkaJSSASLAuthenticationError', 'an unknown user is refused');
  // SCRAM-SHA-512 credentials were never created for alice: the broker does not even offer it.
  const otherMechanism = await connectError(
    client(saslBrokers, { ...SASL_ENV, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' }),
  );
  assert.equal(
    (otherMechanism as { type?: string } | undefined)?.type,
    'UNSUPPORTED_SASL_MECHANISM',
    'a mechanism the listener does not enable is refused',
  );
  // A plaintext request before authentication: the broker closes the connection.
  const anonymous = await connectError(client(saslBrokers, {}, 1));
  assert.ok(anonymous, 'a client without SASL must not get metadata');
  const names = [anonymous.name, (anonymous as { cause?: Error }).cause?.name];
  assert.ok(
    names.includes('KafkaJSConnectionClosedError'),
    `closed by the broker, got ${anonymous.name}: ${anonymous.message}`,
  );
});

void test('SASL_SSL: TLS verified against KAFKA_SSL_CA_FILE, and a certificate from an unknown CA is refused', async () => {
  const tlsEnv = { ...SASL_ENV, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: certs.caFile };
  assert.deepEqual(await roundTrip(client(tlsBrokers, tlsEnv)), ['a', 'b', 'c']);
  // Without our CA, Node's default trust store does not know the broker's issuer.
  const untrusted = await connectError(client(tlsBrokers, { ...SASL_ENV, KAFKA_SSL: 'true' }, 1));
  assert.ok(untrusted, 'a broker certificate that does not verify must be refused');
  assert.equal(
    (untrusted as { cause?: { code?: string } }).cause?.code,
    'SELF_SIGNED_CERT_IN_CHAIN',
    untrusted.message,
  );
  // TLS with the wrong password: encryption is not authentication.
  const wrong = await connectError(client(tlsBrokers, { ...tlsEnv, KAFKA_SASL_PASSWORD: 'nope' }));
  assert.equal(wrong?.name, 'KafkaJSSASLAuthenticationError');
});
