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
  assert.deepEqual(c.claimRateLimit, { perSecond: 10, burst: 20 });
  assert.deepEqual(c.auth, { trustedKeyTtlMs: 4000, failures: { perSecond: 5, burst: 50 } });
  assert.ok(c.auth.trustedKeyTtlMs <= 5000, 'a revoked key is refused within 5 s');
  assert.deepEqual(c.http, {
    maxConnections: 5000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 65_000,
  });
  assert.ok(
    Object.isFrozen(c) &&
      Object.isFrozen(c.rateLimit) &&
      Object.isFrozen(c.claimRateLimit) &&
      Object.isFrozen(c.http),
  );
});

void test('settings are read from the environment', () => {
  const c = loadIngestConfig({
    INGEST_PORT: '0',
    KAFKA_BROKERS: 'a:1, b:2',
    INGEST_RATE_LIMIT_PER_SECOND: '10',
    INGEST_RATE_LIMIT_BURST: '2000',
    INGEST_CLAIM_RATE_PER_SECOND: '2',
    INGEST_CLAIM_RATE_BURST: '3',
    INGEST_AUTH_FAILURES_PER_SECOND: '4',
    INGEST_AUTH_FAILURE_BURST: '5',
    INGEST_HTTP_MAX_CONNECTIONS: '100',
    INGEST_HTTP_HEADERS_TIMEOUT_MS: '2000',
    INGEST_HTTP_REQUEST_TIMEOUT_MS: '3000',
    INGEST_HTTP_KEEP_ALIVE_TIMEOUT_MS: '4000',
  });
  assert.equal(c.port, 0);
  assert.deepEqual(c.kafkaBrokers, ['a:1', 'b:2']);
  assert.deepEqual(c.rateLimit, { perSecond: 10, burst: 2000 });
  assert.deepEqual(c.claimRateLimit, { perSecond: 2, burst: 3 });
  assert.deepEqual(c.auth.failures, { perSecond: 4, burst: 5 });
  assert.deepEqual(c.http, {
    maxConnections: 100,
    headersTimeoutMs: 2000,
    requestTimeoutMs: 3000,
    keepAliveTimeoutMs: 4000,
  });
});

for (const [name, value] of [
  ['INGEST_PORT', '70000'],
  ['INGEST_PORT', 'http'],
  ['INGEST_RATE_LIMIT_PER_SECOND', '0'],
  ['INGEST_RATE_LIMIT_PER_SECOND', '1.5'],
  ['INGEST_RATE_LIMIT_BURST', '999'],
  ['INGEST_TOPIC', 'bad topic'],
  ['INGEST_CLAIM_RATE_PER_SECOND', '0'],
  ['INGEST_CLAIM_RATE_BURST', 'many'],
  ['INGEST_AUTH_FAILURES_PER_SECOND', '-1'],
  ['INGEST_AUTH_FAILURE_BURST', '0'],
  ['INGEST_HTTP_MAX_CONNECTIONS', '0'],
  ['INGEST_HTTP_HEADERS_TIMEOUT_MS', '5'],
  ['INGEST_HTTP_REQUEST_TIMEOUT_MS', '5000'],
  ['INGEST_HTTP_KEEP_ALIVE_TIMEOUT_MS', 'forever'],
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
