import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig as loadAggregatorConfig } from '../../services/aggregator/src/config.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { loadProjectorConfig } from '../../services/projector/src/config.js';
import { commonConfig, int, PROFILE_NAMES, PROFILES, profileName } from '../../shared/src/config.js';

/** What each service ends up with, per profile (prod: the services' own defaults). */
const expected = {
  dev: { batch: 1000, wait: 20, dbPool: 2, aggMem: 128, ingestMem: 128, linger: 2, projMem: 96 },
  prod: { batch: 10_000, wait: 50, dbPool: 4, aggMem: 256, ingestMem: 256, linger: 5, projMem: 128 },
  'high-load': { batch: 25_000, wait: 100, dbPool: 6, aggMem: 512, ingestMem: 512, linger: 10, projMem: 192 },
} as const;

function loaded(env: Record<string, string>) {
  const a = loadAggregatorConfig(env);
  const i = loadIngestConfig(env);
  const p = loadProjectorConfig(env);
  return {
    profile: [a.profile, i.profile, p.profile],
    batch: a.batchMaxEvents,
    wait: a.batchMaxWaitMs,
    dbPool: a.dbPoolMax,
    aggMem: a.memoryBudgetMb,
    ingestMem: i.memoryBudgetMb,
    linger: i.producerLingerMs,
    projMem: p.memoryBudgetMb,
  };
}

void test('each profile gives every service its values; unset is prod', () => {
  const cases: [Record<string, string>, keyof typeof expected][] = [
    [{}, 'prod'],
    [{ JACKPOT_PROFILE: '' }, 'prod'],
    [{ JACKPOT_PROFILE: 'prod' }, 'prod'],
    [{ JACKPOT_PROFILE: 'dev' }, 'dev'],
    [{ JACKPOT_PROFILE: 'high-load' }, 'high-load'],
  ];
  for (const [env, name] of cases) {
    const { profile, ...values } = loaded(env);
    assert.deepEqual(profile, [name, name, name], JSON.stringify(env));
    assert.deepEqual(values, expected[name], JSON.stringify(env));
  }
});

void test('a variable set explicitly wins over its profile', () => {
  const got = loaded({
    JACKPOT_PROFILE: 'high-load',
    AGGREGATOR_BATCH_MAX_EVENTS: '3000',
    AGGREGATOR_DB_POOL_MAX: '3',
    INGEST_PRODUCER_LINGER_MS: '0',
  });
  assert.deepEqual(
    { batch: got.batch, dbPool: got.dbPool, linger: got.linger, wait: got.wait, aggMem: got.aggMem },
    { batch: 3000, dbPool: 3, linger: 0, wait: 100, aggMem: 512 },
  );
});

void test('an unknown profile stops every service with a message that lists the profiles', () => {
  for (const bad of ['production', 'HIGH-LOAD', 'high_load', ' dev']) {
    const message = `JACKPOT_PROFILE=${JSON.stringify(bad)} is invalid: expected one of dev, prod, high-load`;
    for (const load of [loadAggregatorConfig, loadIngestConfig, loadProjectorConfig, commonConfig])
      assert.throws(() => load({ JACKPOT_PROFILE: bad }), { code: 'CONFIG_INVALID', message }, bad);
    assert.throws(() => profileName({ JACKPOT_PROFILE: bad }), { message });
  }
});

void test('out-of-range values are refused under a profile, naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { JACKPOT_PROFILE: 'high-load', AGGREGATOR_BATCH_MAX_EVENTS: '0' },
      /^AGGREGATOR_BATCH_MAX_EVENTS="0" is invalid/,
    ],
    [
      { JACKPOT_PROFILE: 'dev', AGGREGATOR_DB_POOL_MAX: '1' },
      /^AGGREGATOR_DB_POOL_MAX="1" is invalid: expected an integer between 2 and 100/,
    ],
    [
      { JACKPOT_PROFILE: 'dev', AGGREGATOR_BATCH_MAX_WAIT_MS: 'fast' },
      /^AGGREGATOR_BATCH_MAX_WAIT_MS="fast" is invalid/,
    ],
  ];
  for (const [env, message] of cases)
    assert.throws(() => loadAggregatorConfig(env), { code: 'CONFIG_INVALID', message }, JSON.stringify(env));
  // A profile's own value goes through the same range check, and says where it came from.
  assert.throws(() => int({ JACKPOT_PROFILE: 'high-load' }, 'AGGREGATOR_BATCH_MAX_EVENTS', 1, 1, 10_000), {
    message:
      'AGGREGATOR_BATCH_MAX_EVENTS (from JACKPOT_PROFILE=high-load)="25000" is invalid: expected an integer between 1 and 10000',
  });
});

void test('every profile names service variables, with values every service accepts', () => {
  for (const name of PROFILE_NAMES) {
    for (const variable of Object.keys(PROFILES[name]))
      assert.match(variable, /^(AGGREGATOR|INGEST|PROJECTOR)_[A-Z_]+$/, `${name}: ${variable}`);
    assert.doesNotThrow(() => loaded({ JACKPOT_PROFILE: name }), name);
  }
});
