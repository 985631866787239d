/**
 * JACKPOT_PROFILE on a real service start: the compiled aggregator with `high-load` runs with the
 * profile's windows and budget (its start-up log says so), an explicit variable wins, and an
 * unknown profile or an out-of-range value stops every service before it does anything.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';
import { randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess } from '../helpers/processes.js';

const db = await createTestDatabase();

async function env(): Promise<Record<string, string>> {
  const topic = await randomTopic('profile-wagers', 1);
  return {
    DATABASE_URL: db.url,
    AGGREGATOR_TOPIC: topic,
    INGEST_TOPIC: topic,
    POOL_UPDATES_TOPIC: await randomTopic('profile-updates', 1),
    PROJECTOR_TOPIC: await randomTopic('profile-updates-p', 1),
    DLQ_TOPIC: await randomTopic('profile-dlq', 1),
    AWARDS_TOPIC: await randomTopic('profile-awards', 1),
    AGGREGATOR_GROUP_ID: randomGroupId('profile'),
  };
}

void test(
  'the aggregator starts with its profile, an explicit variable winning',
  { timeout: 120_000 },
  async () => {
    const aggregator = await startServiceProcess('aggregator', {
      ...(await env()),
      JACKPOT_PROFILE: 'high-load',
      AGGREGATOR_BATCH_MAX_WAIT_MS: '75',
    });
    await aggregator.waitReady(90_000);
    const started = aggregator
      .output()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {}))
      .find((l) => l['msg'] === 'aggregator started');
    assert.ok(started, aggregator.output());
    assert.equal(started['batchMaxEvents'], 25_000);
    assert.equal(started['batchMaxWaitMs'], 75);
    assert.equal(started['memoryBudgetMb'], 512);
    aggregator.child.kill('SIGTERM');
    assert.equal(await aggregator.exited(), 0);
  },
);

void test(
  'an unknown profile or an out-of-range value stops each service at start, naming it',
  { timeout: 120_000 },
  async () => {
    const base = await env();
    const cases: {
      service: 'aggregator' | 'ingest' | 'projector';
      env: Record<string, string>;
      says: RegExp;
    }[] = [
      {
        service: 'aggregator',
        env: { JACKPOT_PROFILE: 'turbo' },
        says: /JACKPOT_PROFILE="turbo" is invalid: expected one of dev, prod, high-load/,
      },
      { service: 'ingest', env: { JACKPOT_PROFILE: 'turbo' }, says: /JACKPOT_PROFILE="turbo" is invalid/ },
      { service: 'projector', env: { JACKPOT_PROFILE: 'Prod' }, says: /JACKPOT_PROFILE="Prod" is invalid/ },
      {
        service: 'aggregator',
        env: { JACKPOT_PROFILE: 'dev', AGGREGATOR_DB_POOL_MAX: '1' },
        says: /AGGREGATOR_DB_POOL_MAX="1" is invalid: expected an integer between 2 and 100/,
      },
    ];
    for (const c of cases) {
      const p = await startServiceProcess(c.service, { ...base, ...c.env });
      const code = await p.exited();
      assert.notEqual(code, 0, `${c.service} ${JSON.stringify(c.env)} should not start`);
      assert.match(p.output(), c.says, c.service);
    }
  },
);
