import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadProjectorConfig } from '../../../../services/projector/src/config.js';

void test('defaults follow the contract', () => {
  const c = loadProjectorConfig({});
  assert.equal(c.port, 8081);
  assert.equal(c.topic, 'jackpot.pool-updates.v1');
  assert.equal(c.resyncMs, 1000);
  assert.equal(c.sseMaxClients, 1000);
  assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:9092']);
  assert.equal(c.databaseUrl, 'postgres://postgres@127.0.0.1:5432/jackpot');
  assert.ok(Object.isFrozen(c));
});

void test('settings are read from the environment', () => {
  const c = loadProjectorConfig({
    PROJECTOR_PORT: '0',
    PROJECTOR_RESYNC_MS: '250',
    PROJECTOR_TOPIC: 'test.updates.x1',
    PROJECTOR_SSE_MAX_CLIENTS: '25',
    KAFKA_BROKERS: 'a:1, b:2',
  });
  assert.equal(c.port, 0);
  assert.equal(c.resyncMs, 250);
  assert.equal(c.topic, 'test.updates.x1');
  assert.equal(c.sseMaxClients, 25);
  assert.deepEqual(c.kafkaBrokers, ['a:1', 'b:2']);
});

void test('a bad value stops the service with the variable named', () => {
  const table: Array<[Record<string, string>, string]> = [
    [{ PROJECTOR_PORT: '80a' }, 'PROJECTOR_PORT'],
    [{ PROJECTOR_PORT: '70000' }, 'PROJECTOR_PORT'],
    [{ PROJECTOR_RESYNC_MS: '0' }, 'PROJECTOR_RESYNC_MS'],
    [{ PROJECTOR_RESYNC_MS: 'fast' }, 'PROJECTOR_RESYNC_MS'],
    [{ PROJECTOR_TOPIC: 'bad topic' }, 'PROJECTOR_TOPIC'],
    [{ KAFKA_BROKERS: ' , ' }, 'KAFKA_BROKERS'],
    [{ PROJECTOR_SSE_MAX_CLIENTS: '0' }, 'PROJECTOR_SSE_MAX_CLIENTS'],
    [{ PROJECTOR_SSE_MAX_CLIENTS: 'many' }, 'PROJECTOR_SSE_MAX_CLIENTS'],
    [
      { PROJECTOR_SSE_MAX_CLIENTS: '600', PROJECTOR_HTTP_MAX_CONNECTIONS: '500' },
      'PROJECTOR_SSE_MAX_CLIENTS',
    ],
  ];
  for (const [env, name] of table) {
    assert.throws(
      () => loadProjectorConfig(env),
      (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && e.message.startsWith(`${name}=`),
      name,
    );
  }
});
