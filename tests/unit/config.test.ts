import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { commonConfig, databaseUrl, kafkaSecurity } from '../../shared/src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'jackpot-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, PEM);
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello');
const missing = join(dir, 'missing.pem');

void test('Kafka security: nothing set is plaintext without authentication', () => {
  assert.deepEqual(kafkaSecurity({}), {});
  assert.deepEqual(commonConfig({}).kafkaSecurity, {});
});

void test('Kafka security: valid settings', () => {
  const cases: [Record<string, string>, unknown][] = [
    [{ KAFKA_SSL: 'true' }, { ssl: {} }],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile }, { ssl: { ca: PEM } }],
    [
      { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 's3cret' },
      { sasl: { mechanism: 'scram-sha-256', username: 'svc', password: 's3cret' } },
    ],
    [
      {
        KAFKA_SSL: '1',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: 'p',
      },
      { ssl: {}, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'p' } },
    ],
  ];
  for (const [env, want] of cases) assert.deepEqual(kafkaSecurity(env), want, JSON.stringify(env));
});

void test('Kafka security: a half-made setting stops the start, naming the variable and never the password', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ KAFKA_SSL: 'maybe' }, /KAFKA_SSL=/],
    [{ KAFKA_SSL_CA_FILE: caFile }, /KAFKA_SSL_CA_FILE=.*unless KAFKA_SSL=true/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: missing }, /KAFKA_SSL_CA_FILE=.*readable file/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: notPem }, /KAFKA_SSL_CA_FILE=.*PEM/],
    [
      { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2' },
      /KAFKA_SASL_MECHANISM=.*SCRAM-SHA-256 or SCRAM-SHA-512/,
    ],
    [{ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_PASSWORD: 'hunter2' }, /KAFKA_SASL_USERNAME/],
    [{ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'u' }, /KAFKA_SASL_PASSWORD is empty/],
    [{ KAFKA_SASL_USERNAME: 'u' }, /KAFKA_SASL_USERNAME=.*unless KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SASL_PASSWORD: 'hunter2' }, /KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => kafkaSecurity(env),
      (e: Error) => message.test(e.message) && !e.message.includes('hunter2'),
      JSON.stringify(env),
    );
  }
});

void test('DATABASE_URL: TLS parameters are checked, the URL (and its password) is never echoed', () => {
  assert.equal(databaseUrl({}), 'postgres://postgres@127.0.0.1:5432/jackpot');
  for (const url of [
    'postgres://svc:pw@db.internal:5432/jackpot?sslmode=verify-full',
    `postgresql://svc@db.internal/jackpot?sslmode=verify-full&sslrootcert=${caFile}`,
    'postgres://svc@db/jackpot?sslmode=disable',
  ])
    assert.equal(databaseUrl({ DATABASE_URL: url }), url);
  const cases: [string, RegExp][] = [
    ['not a url', /DATABASE_URL is invalid/],
    ['mysql://u:hunter2@h/db', /scheme postgres/],
    ['postgres://u:hunter2@h/db?sslmode=no-verify', /DATABASE_URL sslmode="no-verify" is invalid/],
    [
      'postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
      /DATABASE_URL sslrootcert=.*readable file/,
    ],
    [`postgres://u:hunter2@h/db?sslmode=verify-full&sslkey=${missing}`, /DATABASE_URL sslkey=/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => databaseUrl({ DATABASE_URL: url }),
      (e: Error) => message.test(e.message) && !e.message.includes('hunter2'),
      url,
    );
  }
});
