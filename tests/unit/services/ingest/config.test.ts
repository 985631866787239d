import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../../../shared/src/errors.js';
import { loadIngestConfig } from '../../../../services/ingest/src/config.js';

void test('defaults are the contract and the documented limits', () => {
  const c = loadIngestConfig({});
  assert.equal(c.port, 8080);
  assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:9092']);
  assert.equal(c.databaseUrl, 'postgres://postgres@127.0.0.1:5432/jackpot');
  assert.equal(c.topic, 'jackpot.wagers.v1');
  assert.deepEqual(c.rateLimit, { perSecond: 50_000, burst: 100_000 });
  assert.equal(c.keyCacheTtlSeconds, 30);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.rateLimit));
});

void test('settings are read from the environment', () => {
  const c = loadIngestConfig({
    INGEST_PORT: '0',
    KAFKA_BROKERS: 'a:1, b:2',
    INGEST_RATE_LIMIT_PER_SECOND: '10',
    INGEST_RATE_LIMIT_BURST: '2000',
  });
  assert.equal(c.port, 0);
  assert.deepEqual(c.kafkaBrokers, ['a:1', 'b:2']);
  assert.deepEqual(c.rateLimit, { perSecond: 10, burst: 2000 });
});

for (const [name, value] of [
  ['INGEST_PORT', '70000'],
  ['INGEST_PORT', 'http'],
  ['INGEST_RATE_LIMIT_PER_SECOND', '0'],
  ['INGEST_RATE_LIMIT_PER_SECOND', '1.5'],
  ['INGEST_RATE_LIMIT_BURST', '999'],
  ['INGEST_TOPIC', 'bad topic'],
  ['KAFKA_BROKERS', ' , '],
  ['LOG_LEVEL', 'loud'],
] as const) {
  void test(`a bad ${name} stops the service with its name`, () => {
    assert.throws(
      () => loadIngestConfig({ [name]: value }),
      (e: unknown) =>
        e instanceof AppError && e.code === 'CONFIG_INVALID' && e.message.startsWith(`${name}=`),
    );
  });
}
