/**
 * The least-privilege roles (infra/migrations/0005_roles.sql) on a fresh database, through LOGIN
 * roles made the way the README tells an operator to (`CREATE ROLE … LOGIN PASSWORD … IN ROLE …`):
 * a login in jackpot_service runs the services' own code (the jackpot store, API keys, fx rates,
 * an aggregator over Kafka with its partitions, outboxes and mystery hits, a claim, the projector's
 * query, reconciliation) and is refused DDL and rewrites of the append-only tables; a login in
 * jackpot_analyst reads the documented tables and is refused the triggers, the keys and every
 * write. Roles belong to the whole cluster, so the logins have unique names and are dropped after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import pg from 'pg';
import { createApiKey, verifyApiKey } from '../../shared/src/api-keys.js';
import { DEFAULT_DATABASE_URL } from '../../shared/src/config.js';
import { createPool } from '../../shared/src/db.js';
import { reconcile } from '../../shared/src/domain/reconcile.js';
import { validateWinClaim } from '../../shared/src/domain/win-claim.js';
import { createLogger } from '../../shared/src/logger.js';
import { putFxRate } from '../../shared/src/meters.js';
import { claimPoolWin } from '../../shared/src/wins.js';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { loadConfig as loadAggregatorConfig } from '../../services/aggregator/src/config.js';
import { loadRecords } from '../../services/cli/src/reconcile.js';
import { selectPoolTotals } from '../../services/projector/src/sql/select-pool-totals.js';
import { serviceDatabaseUrl } from '../../infra/stack.js';
import { createTestDatabase } from '../helpers/db.js';
import {
  asEvent,
  eventually,
  expectedApplied,
  expectedTotals,
  mixedStream,
  poolMicros,
  seedJackpot,
  wager,
  type JackpotSpec,
} from '../helpers/fixtures.js';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';

const suffix = randomBytes(4).toString('hex');
const LOGINS = {
  service: `jackpot_test_svc_${suffix}`,
  analyst: `jackpot_test_analyst_${suffix}`,
  stack: `jackpot_test_app_${suffix}`,
};
const PASSWORD = randomBytes(12).toString('hex');
const pools: pg.Pool[] = [];
const running: Aggregator[] = [];
// The same server's maintenance database, where roles (cluster-wide) are dropped.
const maintenanceUrl = Object.assign(new URL(process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL), {
  pathname: '/postgres',
}).toString();

// Registered before the database helper's own cleanup, so it runs while the database still exists.
after(async () => {
  for (const a of running) await a.stop().catch(() => undefined);
  for (const p of pools) await p.end().catch(() => undefined);
  const admin = new pg.Client({ connectionString: maintenanceUrl });
  await admin.connect();
  try {
    // The logins own nothing (partitions belong to the function's owner) and hold no grants of
    // their own, only memberships, so they can go at once.
    for (const login of Object.values(LOGINS)) await admin.query(`DROP ROLE IF EXISTS ${login}`);
  } finally {
    await admin.end();
  }
});

const db = await createTestDatabase();
await db.pool.query(`CREATE ROLE ${LOGINS.service} LOGIN PASSWORD '${PASSWORD}' IN ROLE jackpot_service`);
await db.pool.query(`CREATE ROLE ${LOGINS.analyst} LOGIN PASSWORD '${PASSWORD}' IN ROLE jackpot_analyst`);

function poolAs(login: string): pg.Pool {
  const url = new URL(db.url);
  url.username = login;
  url.password = PASSWORD;
  const p = createPool(url.toString(), { max: 4, applicationName: `roles-test-${login}` });
  pools.push(p);
  return p;
}
const service = poolAs(LOGINS.service);
const analyst = poolAs(LOGINS.analyst);
const kafka = kafkaForTests();
const logger = createLogger('roles-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

/** The SQLSTATE `sql` fails with, or 'ok'. */
async function outcome(p: pg.Pool, sql: string): Promise<string> {
  try {
    await p.query(sql);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const PLAIN: JackpotSpec = {
  jackpotId: 'plain',
  currency: 'EUR',
  pools: [
    { tier: 'mini', seedMinor: 1_000, contributionPpm: 3_333 },
    { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 7_777, reservePpm: 1_234 },
  ],
  games: ['g-a', 'g-b'],
};
// Hits every ten wagers or so: the aggregator reads and draws triggers and opens cycles.
const MYSTERY: JackpotSpec = {
  jackpotId: 'myst',
  currency: 'EUR',
  pools: [{ tier: 'drop', seedMinor: 1_000, contributionPpm: 100_000, mustHitByMinor: 1_100 }],
  games: ['g-m'],
};
const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');

void test('a login in jackpot_service runs what the gateway, the aggregator, the projector and the operator commands run', async () => {
  // The gateway's admin API and the command line: jackpots (cycles, triggers, top-ups, audit),
  // a re-put that unlinks a game (the one DELETE), fx rates, API keys.
  await seedJackpot(service, { ...PLAIN, games: [...PLAIN.games, 'g-gone'] });
  await seedJackpot(service, PLAIN);
  await seedJackpot(service, MYSTERY);
  assert.deepEqual(
    (await db.pool.query("SELECT game_id FROM jackpot.games WHERE jackpot_id = 'plain' ORDER BY 1")).rows.map(
      (r: { game_id: string }) => r.game_id,
    ),
    ['g-a', 'g-b'],
  );
  await putFxRate(service, 'GBP', 'EUR', 1_150_000, 'roles-test');
  const key = await createApiKey(service, { role: 'admin', name: `roles-test-${suffix}` });
  assert.equal((await verifyApiKey(service, key.key))?.role, 'admin');

  // An aggregator on the service login: it creates its ledger partitions (through the migration's
  // function), fences, claims, copies the ledger, books pools, mystery hits and dead letters, and
  // relays the outboxes.
  const topics = {
    topic: await randomTopic('roles-wagers', 2),
    poolUpdatesTopic: await randomTopic('roles-updates', 1),
    dlqTopic: await randomTopic('roles-dlq', 1),
    awardsTopic: await randomTopic('roles-awards', 1),
  };
  const aggregator = createAggregator({
    kafka,
    pool: service,
    config: {
      ...loadAggregatorConfig({}),
      ...topics,
      groupId: randomGroupId('roles'),
      batchMaxEvents: 500,
      batchMaxWaitMs: 20,
      partitionsConsumedConcurrently: 2,
      sessionTimeoutMs: FAST_GROUP.sessionTimeout ?? 6000,
    },
    logger,
    meter: metrics.getMeter('roles-test'),
  });
  running.push(aggregator);
  await aggregator.start();

  const events = [
    ...mixedStream(400, PLAIN.games, 'EUR', 7),
    ...Array.from({ length: 60 }, (_, i) =>
      asEvent(wager({ gameId: 'g-m', playerId: `m-${i}`, amountMinor: 100 })),
    ),
    asEvent(wager({ gameId: 'g-gone' })),
  ];
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: topics.topic,
    acks: -1,
    messages: events.map((e) => ({ key: e.key, value: e.value })),
  });
  await producer.disconnect();

  const want = expectedApplied(events, [PLAIN, MYSTERY]);
  const applied = async (): Promise<number> =>
    Number(
      (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.applied_events')).rows[0]?.n,
    );
  assert.ok(
    await eventually(async () => (await applied()) === want, 60_000),
    `applied ${await applied()} of ${want}`,
  );
  const totals = await poolMicros(db.pool);
  for (const [poolId, micro] of expectedTotals(events, [PLAIN]))
    assert.equal(totals.get(poolId), micro, poolId);
  const mysteryWins = Number(
    (await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM jackpot.wins WHERE kind = 'mystery'"))
      .rows[0]?.n,
  );
  assert.ok(mysteryWins >= 3, `mystery hits under the service login: ${mysteryWins}`);
  const reasons = (
    await db.pool.query<{ reason: string }>('SELECT DISTINCT reason FROM jackpot.dead_letters')
  ).rows.map((r) => r.reason);
  assert.ok(reasons.includes('unknown_game'), 'the unlinked game is dead-lettered');
  const unpublished = async (): Promise<number> =>
    Number(
      (
        await db.pool.query<{ n: string }>(
          'SELECT (SELECT count(*) FROM jackpot.dead_letters WHERE published_at IS NULL) + (SELECT count(*) FROM jackpot.wins WHERE published_at IS NULL) AS n',
        )
      ).rows[0]?.n,
    );
  assert.ok(
    await eventually(async () => (await unpublished()) === 0, 30_000),
    'both outboxes relayed and marked',
  );

  // The partitions exist, belong to the migrating role, and grant the service nothing directly.
  const part = await db.pool.query<{ owner: string; acl: string | null }>(
    `SELECT pg_get_userbyid(relowner) AS owner, relacl::text AS acl FROM pg_class WHERE oid = to_regclass($1)`,
    [`jackpot.ledger_${today}`],
  );
  assert.equal(
    part.rows[0]?.owner,
    new URL(db.url).username || 'postgres',
    "today's ledger partition, owned by the migrating role",
  );
  assert.doesNotMatch(part.rows[0]?.acl ?? '', /jackpot_service/);

  // The gateway's claim, the projector's query, the operator's reconciliation.
  const claim = validateWinClaim({
    claimId: `roles-${suffix}`,
    poolId: 'plain:mini',
    gameId: 'g-a',
    playerId: 'winner',
  });
  assert.ok(claim.ok);
  assert.equal((await claimPoolWin(service, claim.claim)).kind, 'won');
  assert.equal((await service.query(selectPoolTotals())).rowCount, 3);
  const client = await service.connect();
  try {
    const { pools: poolRecords, cycles } = await loadRecords(client);
    assert.deepEqual(reconcile(poolRecords, cycles).findings, [], 'every invariant holds');
  } finally {
    client.release();
  }
});

void test('the service login cannot change the schema or rewrite what is append-only', async () => {
  const refused: [string, string][] = [
    ['CREATE TABLE jackpot.intruder (id int)', '42501'],
    ['DROP TABLE jackpot.wins', '42501'],
    ['TRUNCATE jackpot.applied_events', '42501'],
    ['ALTER TABLE jackpot.pool_totals ADD COLUMN x int', '42501'],
    // The contract's ledger is a view of jackpot.ledger (migration 0009) that nobody can update or
    // delete through (55000); the table itself refuses the service (42501).
    ['UPDATE jackpot.contributions SET contribution_micro = 0', '55000'],
    ['DELETE FROM jackpot.contributions', '55000'],
    ['UPDATE jackpot.ledger SET wager_minor = 0', '42501'],
    ['DELETE FROM jackpot.ledger', '42501'],
    ['INSERT INTO jackpot.contributions SELECT * FROM jackpot.contributions LIMIT 1', '42501'],
    ['DELETE FROM jackpot.wins', '42501'],
    ['DELETE FROM jackpot.pool_totals', '42501'],
    ['UPDATE jackpot.pool_triggers SET trigger_micro = 0', '42501'],
    ['UPDATE jackpot.topups SET amount_micro = 1', '42501'],
    ['UPDATE jackpot.config_audit SET actor = $$x$$', '42501'],
    ['DELETE FROM jackpot.applied_events', '42501'],
    [`UPDATE jackpot.ledger_${today} SET wager_minor = 0`, '42501'],
    [`SELECT count(*) FROM jackpot.ledger_default`, '42501'],
    ['SELECT * FROM public.schema_migrations', '42501'],
    // The partition function only makes days near today.
    ['SELECT jackpot.create_ledger_partition(current_date + 400)', '22023'],
  ];
  for (const [sql, code] of refused) assert.equal(await outcome(service, sql), code, sql);
});

void test('a login in jackpot_analyst reads the documented tables, never a trigger or a key, and writes nothing', async () => {
  for (const table of [
    'pool_totals',
    'contributions',
    'wins',
    'dead_letters',
    'jackpots',
    'pools',
    'games',
    'pool_cycles',
    'topups',
    'fx_rates',
    'config_audit',
  ]) {
    assert.equal(await outcome(analyst, `SELECT * FROM jackpot.${table} LIMIT 1`), 'ok', table);
  }
  // The ledger through its parent: every partition's rows, with the partitions' own grants empty.
  const count = async (p: pg.Pool): Promise<string | undefined> =>
    (await p.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.contributions')).rows[0]?.n;
  assert.equal(await count(analyst), await count(db.pool));
  assert.notEqual(await count(analyst), '0');

  for (const sql of [
    'SELECT * FROM jackpot.pool_triggers',
    'SELECT trigger_micro FROM jackpot.pool_triggers',
    'SELECT * FROM jackpot.api_keys',
    'SELECT key_hash FROM jackpot.api_keys',
    `SELECT * FROM jackpot.ledger_${today}`,
    'SELECT jackpot.create_ledger_partition(current_date)',
  ]) {
    assert.equal(await outcome(analyst, sql), '42501', sql);
  }

  // INSERT anywhere: every table of the schema, every partition, and the migrations' record.
  const tables = (
    await db.pool.query<{ name: string }>(
      "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname IN ('jackpot', 'public') ORDER BY 1",
    )
  ).rows.map((r) => r.name);
  assert.ok(tables.length >= 17, `tables found: ${tables.join(', ')}`);
  for (const t of tables)
    assert.equal(await outcome(analyst, `INSERT INTO ${t} DEFAULT VALUES`), '42501', `INSERT INTO ${t}`);
  for (const sql of [
    'UPDATE jackpot.pool_totals SET version = version + 1',
    'DELETE FROM jackpot.wins',
    'TRUNCATE jackpot.dead_letters',
    'CREATE TABLE jackpot.mine (id int)',
  ]) {
    assert.equal(await outcome(analyst, sql), '42501', sql);
  }
});

void test('a table a later migration creates is the services’ at once, and the analysts’ only when granted', async () => {
  // Run as the migrating role, as a later migration would be.
  await db.pool.query('CREATE TABLE jackpot.roles_test_later (id bigserial PRIMARY KEY, note text)');
  assert.equal(
    await outcome(service, "INSERT INTO jackpot.roles_test_later (note) VALUES ('x')"),
    'ok',
    'default privileges: table and sequence',
  );
  assert.equal(await outcome(service, "UPDATE jackpot.roles_test_later SET note = 'y'"), 'ok');
  assert.equal(
    await outcome(service, 'DELETE FROM jackpot.roles_test_later'),
    '42501',
    'no DELETE by default',
  );
  assert.equal(
    await outcome(analyst, 'SELECT * FROM jackpot.roles_test_later'),
    '42501',
    'a new table is not readable by analysts by default',
  );
  await db.pool.query('GRANT SELECT ON jackpot.roles_test_later TO jackpot_analyst');
  assert.equal(await outcome(analyst, 'SELECT * FROM jackpot.roles_test_later'), 'ok');
});

void test('stack:up gives the services a login in jackpot_service on the local trust server, and leaves other URLs alone', async () => {
  const lines: string[] = [];
  const url = await serviceDatabaseUrl(db.url, (l) => lines.push(l), LOGINS.stack);
  assert.equal(new URL(url).username, LOGINS.stack, lines.join('\n'));
  assert.equal(new URL(url).pathname, new URL(db.url).pathname);
  const p = createPool(url, { max: 1 });
  pools.push(p);
  assert.equal(await outcome(p, 'SELECT * FROM jackpot.pool_totals'), 'ok');
  assert.equal(await outcome(p, 'CREATE TABLE jackpot.intruder (id int)'), '42501');
  // Again: the login exists and is reused.
  assert.equal(await serviceDatabaseUrl(db.url, () => undefined, LOGINS.stack), url);
  // A URL with a password, or a remote server, is production's: the operator makes its logins.
  const withPassword = Object.assign(new URL(db.url), { password: 'secret' }).toString();
  assert.equal(await serviceDatabaseUrl(withPassword, () => undefined, LOGINS.stack), withPassword);
  assert.equal(
    await serviceDatabaseUrl('postgres://postgres@db.example:5432/jackpot', () => undefined, LOGINS.stack),
    'postgres://postgres@db.example:5432/jackpot',
  );
});
