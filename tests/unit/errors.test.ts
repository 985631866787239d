/**
 * The edges that turn raw errors into AppErrors, and the one flag retries and 503s are decided by.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { fromDbError, retryDb } from '../../shared/src/db.js';
import { AppError, isRetryable } from '../../shared/src/errors.js';
import { fromKafkaError } from '../../shared/src/kafka.js';

// kafkajs is CommonJS and spreads its error classes into its exports, which named ESM imports cannot see.
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSRequestTimeoutError } = kafkajs;

const pgError = (code: string, message = `pg ${code}`): Error => Object.assign(new Error(message), { code });

void test('isRetryable: only an AppError that says so', () => {
  assert.equal(isRetryable(new AppError('DB_UNAVAILABLE', 'x', { retryable: true })), true);
  assert.equal(isRetryable(new AppError('POSITIONS_FOREIGN', 'x')), false);
  assert.equal(isRetryable(pgError('40001')), false, 'a raw error goes through its edge first');
  assert.equal(isRetryable('boom'), false);
});

void test('fromDbError: what a retry can cure becomes a retryable DB_UNAVAILABLE; the rest keeps its SQLSTATE', () => {
  const table: Array<[string, unknown, boolean]> = [
    ['serialization failure', pgError('40001'), true],
    ['deadlock', pgError('40P01'), true],
    ['server starting', pgError('57P03'), true],
    ['connection refused', pgError('ECONNREFUSED'), true],
    ['connection terminated', new Error('Connection terminated unexpectedly'), true],
    ['unique violation (poison, class 23)', pgError('23505'), false],
    ['numeric out of range (poison, class 22)', pgError('22003'), false],
    ['syntax error (a bug)', pgError('42601'), false],
  ];
  for (const [name, raw, retryable] of table) {
    const err = fromDbError(raw);
    assert.equal(isRetryable(err), retryable, name);
    if (retryable) {
      assert.ok(err instanceof AppError && err.code === 'DB_UNAVAILABLE' && err.cause === raw, name);
    } else assert.equal(err, raw, `${name}: passed through untouched`);
  }
  const app = new AppError('POSITIONS_FOREIGN', 'not ours');
  assert.equal(fromDbError(app), app, 'an AppError passes through');
});

void test('retryDb retries what the edge calls retryable, and gives up at once on the rest', async () => {
  let calls = 0;
  assert.equal(
    await retryDb(() => (++calls < 3 ? Promise.reject(pgError('40P01')) : Promise.resolve('done')), {
      onRetry: () => undefined,
    }),
    'done',
  );
  assert.equal(calls, 3);
  calls = 0;
  const poison = pgError('23505');
  await assert.rejects(
    retryDb(() => (calls++, Promise.reject(poison))),
    (e) => e === poison,
  );
  assert.equal(calls, 1, 'a poison error is not retried and keeps its code');
  calls = 0;
  const foreign = new AppError('POSITIONS_FOREIGN', 'not ours');
  await assert.rejects(
    retryDb(() => (calls++, Promise.reject(foreign))),
    (e) => e === foreign,
  );
  assert.equal(calls, 1);
  await assert.rejects(
    retryDb(() => Promise.reject(pgError('40001')), { attempts: 2 }),
    (e) => e instanceof AppError && e.code === 'DB_UNAVAILABLE' && e.retryable,
  );
});

void test('fromKafkaError: every kafkajs failure is a retryable KAFKA_UNAVAILABLE naming its context', () => {
  const errors = [
    new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
    new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'),
    new KafkaJSNumberOfRetriesExceeded(new Error('leader not available'), { retryCount: 5, retryTime: 3000 }),
    new Error('something else'),
  ];
  for (const raw of errors) {
    const err = fromKafkaError(raw, 'jackpot.awards.v1');
    assert.equal(err.code, 'KAFKA_UNAVAILABLE');
    assert.equal(isRetryable(err), true);
    assert.equal(err.cause, raw);
    assert.ok(err.message.startsWith('jackpot.awards.v1: '), err.message);
  }
  const app = new AppError('KAFKA_UNAVAILABLE', 'timed out', { retryable: true });
  assert.equal(fromKafkaError(app, 'x'), app, 'an AppError passes through');
});
