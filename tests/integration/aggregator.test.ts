import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { createLogger } from '../../shared/src/logger.js';
import { decodeDeadLetter } from '../../shared/src/messages/dead-letter.js';
import { decodePoolUpdate, type PoolUpdateMessage } from '../../shared/src/messages/pool-update.js';
import { withTransaction } from '../../shared/src/db.js';
import { putFxRate } from '../../shared/src/meters.js';
import { checkPositions, rebasePositions } from '../../shared/src/positions.js';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { applyWindow } from '../../services/aggregator/src/apply-window.js';
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
  type RawEvent,
} from '../helpers/fixtures.js';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { positionPartitions } from '../helpers/positions.js';
import { kafkaForTests, readTopic, appliedEventCount, produceEvents } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('aggregator-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

const JACKPOTS: JackpotSpec[] = [
  {
    jackpotId: 'eu',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1_000, contributionPpm: 3_333 },
      { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 7_777, reservePpm: 1_234 },
    ],
    games: ['g-a', 'g-b', 'g-c'],
  },
  {
    jackpotId: 'uk',
    currency: 'GBP',
    pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 10_001 }],
    games: ['g-uk'],
  },
];
for (const j of JACKPOTS) await seedJackpot(db.pool, j);

const running: Aggregator[] = [];
after(async () => {
  for (const a of running) await a.stop().catch(() => undefined);
});

async function setup(partitions = 6) {
  const base = await testAggregatorConfig('t', partitions, 500);
  const start = async (overrides: { batchMaxEvents?: number } = {}) => {
    const aggregator = createAggregator({
      kafka,
      pool: db.pool,
      config: { ...base, batchMaxEvents: overrides.batchMaxEvents ?? base.batchMaxEvents },
      logger,
      meter: metrics.getMeter('test'),
    });
    running.push(aggregator);
    await aggregator.start();
    return aggregator;
  };
  return { ...base, start };
}

const produce = (topic: string, events: readonly RawEvent[]): Promise<void> =>
  produceEvents(kafka, topic, events);
const appliedEvents = (): Promise<number> => appliedEventCount(db.pool);

type WindowMessage = { offset: string; key: null; value: Buffer };

/**
 * For a one-partition `setup`: its positions checked (which places partition 0 at its first
 * offset), and `write`, one window of `messages` on partition 0 straight through `applyWindow`.
 */
async function directWindows(t: Awaited<ReturnType<typeof setup>>) {
  const admin = kafka.admin();
  await admin.connect();
  const check = await checkPositions(db.pool, admin, { groupId: t.groupId, topic: t.topic });
  await admin.disconnect();
  const write = (messages: WindowMessage[], fetchedFrom?: string) =>
    withTransaction(db.pool, (c) =>
      applyWindow(c, {
        groupId: t.groupId,
        topic: t.topic,
        clusterId: check.clusterId,
        slices: [{ partition: 0, messages, ...(fetchedFrom ? { fetchedFrom } : {}) }],
        nowMs: Date.now(),
      }),
    );
  return { check, write };
}

void test('a mixed stream gives exact pool totals, one ledger row per wager and pool, and dead letters with reasons', async () => {
  const t = await setup();
  const events = mixedStream(3000, ['g-a', 'g-b', 'g-c', 'g-uk'], 'EUR');
  // g-uk wagers in EUR are currency mismatches; add some correct GBP ones.
  const gbp = Array.from({ length: 200 }, (_, i) =>
    asEvent(wager({ gameId: 'g-uk', currency: 'GBP', playerId: `uk-${i}`, amountMinor: 17 + i })),
  );
  const all = [...events, ...gbp];
  const before = await appliedEvents();
  const aggregator = await t.start();
  await produce(t.topic, all);

  const expected = expectedTotals(all, JACKPOTS);
  const want = expectedApplied(all, JACKPOTS);
  const reached = await eventually(async () => (await appliedEvents()) - before === want, 60_000);
  assert.ok(reached, `all valid wagers applied: ${(await appliedEvents()) - before} of ${want}`);

  assert.deepEqual(await poolMicros(db.pool), expected);
  const ledger = await db.pool.query<{ pool_id: string; n: string; s: string }>(
    'SELECT pool_id, count(*) AS n, sum(contribution_micro)::text AS s FROM jackpot.contributions GROUP BY pool_id ORDER BY pool_id',
  );
  for (const r of ledger.rows) {
    const seed =
      BigInt(
        JACKPOTS.flatMap((j) => j.pools.map((p) => [`${j.jackpotId}:${p.tier}`, p.seedMinor] as const)).find(
          ([id]) => id === r.pool_id,
        )?.[1] ?? 0,
      ) * 1_000_000n;
    assert.equal(BigInt(r.s) + seed, expected.get(r.pool_id), `ledger sum of ${r.pool_id}`);
  }
  const dupRows = await db.pool.query(
    'SELECT event_id, pool_id FROM jackpot.contributions GROUP BY 1, 2 HAVING count(*) > 1',
  );
  assert.equal(dupRows.rowCount, 0, 'no wager booked twice to a pool');

  const reasons = (
    await db.pool.query<{ reason: string }>('SELECT reason FROM jackpot.dead_letters ORDER BY id')
  ).rows.map((r) => r.reason);
  for (const reason of [
    'malformed_json',
    'amount_out_of_range',
    'unknown_game',
    'currency_mismatch',
    'empty_payload',
  ]) {
    assert.ok(reasons.includes(reason), `dead letter with reason ${reason}`);
  }
  const dlq = await readTopic(kafka, t.dlqTopic, (got) => got.length >= reasons.length);
  assert.equal(dlq.length, reasons.length, 'every dead letter on the topic');
  const letters = dlq.map((m) => {
    const d = decodeDeadLetter(m);
    assert.ok(d.ok, d.ok ? '' : d.reason);
    return d.message;
  });
  assert.deepEqual(new Set(letters.map((d) => d.reason)), new Set(reasons));
  const malformed = letters.find((d) => d.reason === 'malformed_json');
  assert.equal(malformed?.payload.toString(), '{"eventId": nope', 'original bytes kept');

  const latest = (got: readonly KafkaMessage[]) => {
    const last = new Map<string, PoolUpdateMessage>();
    for (const m of got) {
      const d = decodePoolUpdate(m.value);
      assert.ok(d.ok, d.ok ? '' : d.reason);
      const u = d.message;
      if ((last.get(u.poolId)?.version ?? 0) < u.version) last.set(u.poolId, u);
    }
    return last;
  };
  const versions = new Map(
    (
      await db.pool.query<{ pool_id: string; version: string }>(
        'SELECT pool_id, version::text FROM jackpot.pool_totals',
      )
    ).rows.map((r) => [r.pool_id, Number(r.version)]),
  );
  const last = latest(
    await readTopic(
      kafka,
      t.poolUpdatesTopic,
      (got) =>
        [...latest(got)].every(([id, u]) => u.version === versions.get(id)) &&
        latest(got).size === versions.size,
    ),
  );
  for (const [poolId, micro] of expected)
    assert.equal(last.get(poolId)?.amountMinor, micro / 1_000_000n, `published amount of ${poolId}`);
  await aggregator.stop();
});

void test('a re-sent wager in a later batch counts once, and a restarted aggregator repeats nothing', async () => {
  const t = await setup(3);
  const totalsBefore = await poolMicros(db.pool);
  const first = Array.from({ length: 1000 }, (_, i) =>
    asEvent(wager({ gameId: 'g-a', playerId: `r-${i % 37}`, amountMinor: 1 + ((i * 7919) % 10_000) })),
  );
  const before = await appliedEvents();
  const offsetsSum = async () =>
    Number(
      (
        await db.pool.query<{ s: string }>(
          'SELECT coalesce(sum(next_offset), 0) AS s FROM jackpot.consumer_offsets WHERE group_id = $1',
          [t.groupId],
        )
      ).rows[0]?.s,
    );
  const a = await t.start({ batchMaxEvents: 100 });
  await produce(t.topic, first);
  const resent = first.slice(0, 300).map((e) => ({
    ...e,
    value: Buffer.from(JSON.stringify({ ...e.wager, occurredAt: '2026-01-01T00:00:00Z', extra: 1 })),
  }));
  await produce(t.topic, resent);
  assert.ok(
    await eventually(async () => (await offsetsSum()) === 1300, 60_000),
    'all 1,300 messages consumed',
  );
  assert.equal(await appliedEvents(), before + 1000, 'the 300 re-sends changed nothing');
  // Lag monitors (KEDA) read the group's offsets in Kafka: committed within a second of Postgres.
  const admin = kafka.admin();
  await admin.connect();
  const kafkaOffsetsSum = async () =>
    ((await admin.fetchOffsets({ groupId: t.groupId, topics: [t.topic] }))[0]?.partitions ?? []).reduce(
      (n, p) => n + Math.max(0, Number(p.offset)),
      0,
    );
  assert.ok(
    await eventually(async () => (await kafkaOffsetsSum()) === 1300, 5_000),
    `Kafka's committed offsets reach the stored positions (sum ${await kafkaOffsetsSum()}, want 1300)`,
  );
  await admin.disconnect();
  await a.stop();
  // The same group again: Postgres holds the position, nothing is re-applied.
  const b = await t.start({ batchMaxEvents: 100 });
  const more = Array.from({ length: 200 }, (_, i) =>
    asEvent(wager({ gameId: 'g-b', playerId: `s-${i}`, amountMinor: 3 + i })),
  );
  await produce(t.topic, more);
  assert.ok(
    await eventually(async () => (await offsetsSum()) === 1500, 60_000),
    'all 1,500 messages consumed',
  );
  assert.equal(await appliedEvents(), before + 1200);
  await b.stop();

  const expectedDelta = expectedTotals([...first, ...more], JACKPOTS);
  const after_ = await poolMicros(db.pool);
  for (const j of JACKPOTS.slice(0, 1)) {
    for (const p of j.pools) {
      const id = `${j.jackpotId}:${p.tier}`;
      const seed = BigInt(p.seedMinor) * 1_000_000n;
      assert.equal(
        (after_.get(id) ?? 0n) - (totalsBefore.get(id) ?? 0n),
        (expectedDelta.get(id) ?? 0n) - seed,
        `delta of ${id}`,
      );
    }
  }
});

const readyWithin = async (a: Aggregator, pattern: RegExp, ms = 20_000): Promise<string | null> => {
  await eventually(() => Promise.resolve(pattern.test(a.readiness() ?? '')), ms);
  return a.readiness();
};

void test('positions that do not belong to the topic stop the replica (not ready, nothing applied) until an operator re-bases them', async () => {
  const t = await setup(3);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { clusterId } = await admin.describeCluster();
    // Positions of ~300 a partition from an earlier topic of the same name; this one starts at 0.
    await positionPartitions(db.pool, {
      groupId: t.groupId,
      topic: t.topic,
      clusterId,
      partitions: [0, 1, 2],
      offset: 300,
    });
    const events = Array.from({ length: 120 }, (_, i) =>
      asEvent(wager({ gameId: 'g-c', playerId: `new-${i}`, amountMinor: 10 + i })),
    );
    await produce(t.topic, events);
    const before = await appliedEvents();
    const a = await t.start();
    const reason = await readyWithin(a, /past the partition's end/);
    assert.match(
      reason ?? '',
      /stored positions refused, nothing is applied: partition \d: stored position 300 is past the partition's end/,
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await appliedEvents(), before, 'not one wager counted as already applied');

    await rebasePositions(db.pool, admin, {
      groupId: t.groupId,
      topic: t.topic,
      to: 'earliest',
      actor: 'test',
    });
    assert.ok(
      await eventually(async () => (await appliedEvents()) === before + 120, 30_000),
      'after the re-base every wager of the new topic is applied',
    );
    assert.equal(a.readiness(), null);
    const audit = await db.pool.query<{ subject: string }>(
      "SELECT subject FROM jackpot.config_audit WHERE action = 'positions.rebase'",
    );
    assert.deepEqual(
      audit.rows.map((r) => r.subject),
      [`${t.groupId}/${t.topic}`],
    );
    await a.stop();
  } finally {
    await admin.disconnect();
  }
});

void test('positions stored for another Kafka cluster are refused by the replica and by the window transaction', async () => {
  const t = await setup(2);
  await positionPartitions(db.pool, {
    groupId: t.groupId,
    topic: t.topic,
    clusterId: 'another-cluster-id',
    partitions: [0, 1],
    offset: 0,
  });
  await produce(t.topic, [asEvent(wager({ gameId: 'g-a', playerId: 'x' }))]);
  const before = await appliedEvents();
  const a = await t.start();
  assert.match(
    (await readyWithin(a, /cluster/)) ?? '',
    /stored for Kafka cluster another-cluster-id, but the broker is cluster /,
  );
  assert.equal(await appliedEvents(), before);
  await a.stop();
  // A window that reached the transaction anyway (a zombie replica on the old cluster) is refused.
  const message = { offset: '0', key: null, value: Buffer.from(JSON.stringify(wager({ gameId: 'g-a' }))) };
  await assert.rejects(
    withTransaction(db.pool, (c) =>
      applyWindow(c, {
        groupId: t.groupId,
        topic: t.topic,
        clusterId: 'this-cluster',
        slices: [{ partition: 0, messages: [message] }],
        nowMs: Date.now(),
      }),
    ),
    /belong to Kafka cluster another-cluster-id/,
  );
});

void test('a window that starts past the stored position is not applied, so a failed first window is never skipped', async () => {
  const { check, write } = await directWindows(await setup(1));
  assert.deepEqual(
    [...check.positions],
    [[0, 0n]],
    'a new partition is positioned at its first offset when assigned',
  );
  const msgs: WindowMessage[] = Array.from({ length: 20 }, (_, i) => ({
    offset: String(i),
    key: null,
    value: Buffer.from(JSON.stringify(wager({ gameId: 'g-b', playerId: `f-${i}` }))),
  }));
  // The first window (offsets 0-9) failed; the second (10-19) must not move the position past it.
  const later = await write(msgs.slice(10), '10');
  assert.equal(later.applied, 0);
  assert.deepEqual(later.gaps, [{ partition: 0, nextOffset: '0' }]);
  const first = await write(msgs.slice(0, 10), '0');
  assert.equal(first.applied, 10);
  assert.equal((await write(msgs.slice(10), '10')).applied, 10);
  // Offsets the broker skipped in one fetch (transaction markers, compacted records) are no gap.
  const skipped = { offset: '25', key: null, value: Buffer.from(JSON.stringify(wager({ gameId: 'g-b' }))) };
  assert.equal((await write([skipped], '20')).applied, 1);
  // Redelivered: a window wholly below the position applies nothing; one that straddles it
  // applies exactly the messages at and after it.
  const again = await write(msgs.slice(5, 15), '5');
  assert.deepEqual([again.applied, again.alreadyApplied, again.gaps], [0, 10, []]);
  const straddle = [24, 25, 26, 27].map((o) => ({
    offset: String(o),
    key: null,
    value: Buffer.from(JSON.stringify(wager({ gameId: 'g-b', playerId: `s-${o}` }))),
  }));
  const across = await write(straddle, '24');
  assert.deepEqual([across.applied, across.alreadyApplied], [2, 2]);
  assert.deepEqual(across.positions, [{ partition: 0, nextOffset: '28' }]);
});

void test('a message that fails every window it is in is dead-lettered as unprocessable, and the rest of its window is applied', async () => {
  const t = await setup(2);
  // A rate from before the admin API refused such rates: one USD wager of 1,000,000,000 minor then
  // overflows its ledger row (1e9 × 1e13 × 3,333 / 1e6 = 3.3e19 micro-units).
  await db.pool.query(
    "INSERT INTO jackpot.fx_rates (from_currency, to_currency, rate_micro) VALUES ('USD', 'EUR', 10000000000000) ON CONFLICT (from_currency, to_currency) DO UPDATE SET rate_micro = excluded.rate_micro",
  );
  await assert.rejects(
    putFxRate(db.pool, 'USD', 'EUR', 1e12, 'test'),
    /rateMicro must be a whole number from 1 to 9000000000/,
  );
  try {
    const good = Array.from({ length: 300 }, (_, i) =>
      asEvent(wager({ gameId: 'g-a', playerId: `pg-${i}`, amountMinor: 5 + i })),
    );
    const poison = asEvent(
      wager({ gameId: 'g-a', playerId: 'pg-150', currency: 'USD', amountMinor: 1_000_000_000 }),
    );
    const before = await appliedEvents();
    const a = await t.start();
    await produce(t.topic, [...good.slice(0, 150), poison, ...good.slice(150)]);
    assert.ok(
      await eventually(async () => (await appliedEvents()) === before + 300, 60_000),
      `the 300 good wagers applied: ${(await appliedEvents()) - before}`,
    );
    const dead = await db.pool.query<{ reason: string; event_id: string; message: string }>(
      "SELECT reason, event_id::text, message FROM jackpot.dead_letters WHERE reason = 'unprocessable'",
    );
    assert.equal(dead.rows.length, 1);
    assert.equal(dead.rows[0]?.event_id ?? poison.wager?.eventId, poison.wager?.eventId);
    await a.stop();
  } finally {
    await db.pool.query("DELETE FROM jackpot.fx_rates WHERE from_currency = 'USD'");
  }
});

void test('in one window: a copy counts once, a copy that fails its own checks is a dead letter whatever its id', async () => {
  const t = await setup(1);
  const windows = await directWindows(t);
  let offset = 0;
  const write = (ws: ReturnType<typeof wager>[]) =>
    windows.write(
      ws.map((w) => ({ offset: String(offset++), key: null, value: Buffer.from(JSON.stringify(w)) })),
    );
  const y = wager({ gameId: 'g-a', playerId: 'w-y', amountMinor: 300 });
  assert.equal((await write([y])).applied, 1);

  const x = wager({ gameId: 'g-b', playerId: 'w-x', amountMinor: 700 });
  const result = await write([
    { ...x, gameId: 'no-such-game' }, // before its valid copy: rejected, claims nothing
    x,
    x, // a copy in the same window: claimed once, counted once
    { ...x, currency: 'JPY' }, // a copy of an applied id with a currency without a rate
    y, // applied in the window before
    { ...y, gameId: 'no-such-game' },
  ]);
  assert.deepEqual(
    [result.applied, result.duplicates, Object.fromEntries(result.rejected)],
    [1, 2, { unknown_game: 2, currency_mismatch: 1 }],
  );
  const ledger = await db.pool.query<{ event_id: string; wager_minor: string }>(
    'SELECT event_id::text, wager_minor::text FROM jackpot.ledger WHERE event_id = ANY($1::uuid[]) ORDER BY wager_minor',
    [[x.eventId, y.eventId]],
  );
  assert.deepEqual(
    ledger.rows.map((r) => [r.event_id, r.wager_minor]),
    [
      [y.eventId, '300'],
      [x.eventId, '700'],
    ],
  );
  const dead = await db.pool.query<{ reason: string; kafka_offset: string }>(
    'SELECT reason, kafka_offset::text FROM jackpot.dead_letters WHERE topic = $1 ORDER BY kafka_offset',
    [t.topic],
  );
  assert.deepEqual(
    dead.rows.map((r) => [r.kafka_offset, r.reason]),
    [
      ['1', 'unknown_game'],
      ['4', 'currency_mismatch'],
      ['6', 'unknown_game'],
    ],
  );
});
