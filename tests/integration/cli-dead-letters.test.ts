/**
 * `dead-letters list | redrive` and `jackpots list` as an operator runs them (child processes),
 * against a real aggregator (in process) on the real broker and Postgres: a wager dead-lettered
 * for a game no jackpot links, the configuration fixed, the dead letter re-driven and applied
 * once; re-driven again, still once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { createLogger } from '../../shared/src/logger.js';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import { asEvent, eventually, seedJackpot, wager, type JackpotSpec } from '../helpers/fixtures.js';
import { kafkaForTests } from '../helpers/kafka.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const TIMEOUT = 120_000;

const jackpot = (args: readonly string[]): Promise<CliRun> => runCli(args, { DATABASE_URL: db.url });

const SPEC: JackpotSpec = {
  jackpotId: 'dl',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
  games: ['g-known'],
};
await seedJackpot(db.pool, SPEC);

const config = await testAggregatorConfig('cli-dl', 2, 100);
const running: Aggregator[] = [];
after(async () => {
  for (const a of running) await a.stop().catch(() => undefined);
});
const aggregator = createAggregator({
  kafka,
  pool: db.pool,
  config,
  logger: createLogger('cli-dl-test', process.env['TEST_LOG_LEVEL'] ?? 'silent'),
  meter: metrics.getMeter('test'),
});
running.push(aggregator);
await aggregator.start();

const admin = kafka.admin();
await admin.connect();

/** Messages on the wagers topic, all partitions. */
async function topicEnd(): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(config.topic);
  return offsets.reduce((s, o) => s + BigInt(o.high), 0n);
}

/** Whether the aggregator's stored positions have reached the end of the topic. */
async function caughtUp(): Promise<boolean> {
  const end = await topicEnd();
  const stored = await db.pool.query<{ n: string | null }>({
    text: 'SELECT sum(next_offset)::text AS n FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
    values: [config.groupId, config.topic],
  });
  return BigInt(stored.rows[0]?.n ?? '0') === end;
}

const ledgerRows = async (eventId: string): Promise<number> =>
  Number(
    (
      await db.pool.query<{ n: string }>({
        text: 'SELECT count(*)::text AS n FROM jackpot.contributions WHERE event_id = $1',
        values: [eventId],
      })
    ).rows[0]?.n,
  );

void test(
  'a dead letter for an unknown game is listed, re-driven after the fix, applied once, and once again when re-driven twice',
  { timeout: TIMEOUT },
  async () => {
    const known = wager({ gameId: 'g-known', playerId: 'p-1', amountMinor: 1_000 });
    const lost = wager({ gameId: 'g-new', playerId: 'p-2', amountMinor: 1_000 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: config.topic,
      acks: -1,
      messages: [known, lost].map(asEvent).map((e) => ({ key: e.key, value: e.value })),
    });
    assert.ok(await eventually(caughtUp, 60_000), 'the aggregator consumed both');
    assert.equal(await ledgerRows(known.eventId), 1);
    assert.equal(await ledgerRows(lost.eventId), 0);

    // list: the dead letter with its reason, origin and payload; not re-driven yet.
    const listed = await jackpot(['dead-letters', 'list', '--reason', 'unknown_game', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as {
      id: string;
      eventId: string;
      topic: string;
      payloadText: string;
      redrivenAt: string | null;
    }[];
    assert.equal(rows.length, 1);
    const dead = rows[0];
    assert.ok(dead);
    assert.equal(dead.eventId, lost.eventId);
    assert.equal(dead.topic, config.topic);
    assert.deepEqual(JSON.parse(dead.payloadText), lost);
    assert.equal(dead.redrivenAt, null);
    const text = await jackpot(['dead-letters', 'list', '--since', '1h']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^1 dead letter\(s\) since .*: unknown_game 1 \(0 re-driven\)/);
    assert.match(text.stdout, new RegExp(`event ${lost.eventId}`));
    assert.equal(
      (await jackpot(['dead-letters', 'list', '--reason', 'malformed_json', '--json'])).stdout.trim(),
      '[]',
    );

    // Refusals: a reason no fix cures, no confirmation without a terminal, a dry run; nothing published.
    const endBefore = await topicEnd();
    const cannot = await jackpot(['dead-letters', 'redrive', '--reason', 'malformed_json', '--yes']);
    assert.equal(cannot.code, 2);
    assert.match(cannot.stderr, /would only be dead-lettered again/);
    const both = await jackpot(['dead-letters', 'redrive', '--reason', 'unknown_game', '--id', dead.id]);
    assert.equal(both.code, 2);
    const unconfirmed = await jackpot(['dead-letters', 'redrive', '--reason', 'unknown_game']);
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stdout, /1 dead letter\(s\) to re-drive/);
    assert.match(unconfirmed.stderr, /confirm with --yes/);
    const dry = await jackpot(['dead-letters', 'redrive', '--reason', 'unknown_game', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /1 unknown_game → /);
    assert.match(dry.stdout, /dry run: nothing published/);
    const missing = await jackpot(['dead-letters', 'redrive', '--id', '999999', '--yes']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no dead letter with id 999999/);
    assert.equal(await topicEnd(), endBefore, 'nothing was published');

    // The fix: link the game, through the command line.
    const dir = await mkdtemp(join(tmpdir(), 'cli-dl-'));
    const file = join(dir, 'dl.json');
    await writeFile(
      file,
      JSON.stringify({ currency: SPEC.currency, pools: SPEC.pools, games: ['g-known', 'g-new'] }),
    );
    const fixed = await jackpot(['jackpots', 'put', '--id', 'dl', '--file', file]);
    assert.equal(fixed.code, 0, fixed.stderr);

    const redriven = await jackpot(['dead-letters', 'redrive', '--reason', 'unknown_game', '--yes']);
    assert.equal(redriven.code, 0, redriven.stderr);
    assert.match(redriven.stdout, /re-drove 1 dead letter/);
    assert.equal(await topicEnd(), endBefore + 1n, 'one message published');
    assert.ok(await eventually(async () => (await ledgerRows(lost.eventId)) === 1, 60_000), 'applied');

    // Again by reason: already re-driven, nothing to do. By id: published again, a duplicate.
    const again = await jackpot(['dead-letters', 'redrive', '--reason', 'unknown_game', '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to re-drive/);
    const twice = await jackpot(['dead-letters', 'redrive', '--id', dead.id, '--yes']);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, /1 unknown_game → .*\(1 re-driven before\)/);
    assert.equal(await topicEnd(), endBefore + 2n);
    assert.ok(await eventually(caughtUp, 60_000), 'the aggregator consumed the second re-drive');
    assert.equal(await ledgerRows(lost.eventId), 1, 're-driven twice, counted once');
    const totals = await db.pool.query<{ amount: string; expected: string; wagers: string }>(
      `SELECT t.amount_micro::text AS amount, t.wagers_total::text AS wagers,
              (t.seed_micro + (SELECT sum(contribution_micro) FROM jackpot.contributions WHERE pool_id = t.pool_id))::text AS expected
       FROM jackpot.pool_totals t WHERE pool_id = 'dl:main'`,
    );
    assert.equal(totals.rows[0]?.wagers, '2');
    assert.equal(totals.rows[0]?.amount, totals.rows[0]?.expected);
    const deadCount = await db.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM jackpot.dead_letters',
    );
    assert.equal(deadCount.rows[0]?.n, '1', 'the re-driven wager was not dead-lettered again');

    // Older than the duplicate check's window: refused unless the operator says they checked.
    await db.pool.query({
      text: "UPDATE jackpot.dead_letters SET received_at = now() - interval '8 days' WHERE id = $1",
      values: [dead.id],
    });
    const stale = await jackpot(['dead-letters', 'redrive', '--id', dead.id, '--yes']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /not re-driven: 1 of the 1 dead letters were received more than 7 days ago/);
    assert.equal(await topicEnd(), endBefore + 2n, 'nothing published');
    const checked = await jackpot([
      'dead-letters',
      'redrive',
      '--id',
      dead.id,
      '--yes',
      '--past-duplicate-window',
    ]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(await topicEnd(), endBefore + 3n);
    assert.ok(await eventually(caughtUp, 60_000));
    assert.equal(await ledgerRows(lost.eventId), 1, 're-driven three times, counted once');

    // Audited: three re-drives of that row, with who and from where.
    const audit = await db.pool.query<{
      actor: string;
      old_value: { eventId: string };
      new_value: { topic: string };
    }>({
      text: `SELECT actor, old_value, new_value FROM jackpot.config_audit WHERE action = 'dead-letters.redrive' AND subject = $1 ORDER BY id`,
      values: [`dead-letter/${dead.id}`],
    });
    assert.equal(audit.rows.length, 3);
    assert.match(audit.rows[0]?.actor ?? '', /^cli:/);
    assert.equal(audit.rows[0]?.old_value.eventId, lost.eventId);
    assert.equal(audit.rows[0]?.new_value.topic, config.topic);
    const after = JSON.parse((await jackpot(['dead-letters', 'list', '--json'])).stdout) as {
      redrivenAt: string | null;
    }[];
    assert.notEqual(after[0]?.redrivenAt, null);

    // jackpots list: the jackpot, its games (the fix) and the pool's amount.
    const list = await jackpot(['jackpots', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const jackpots = JSON.parse(list.stdout) as {
      jackpotId: string;
      currency: string;
      games: string[];
      pools: { poolId: string; tier: string; amountMinor: string; wagers: number }[];
    }[];
    assert.equal(jackpots.length, 1);
    assert.equal(jackpots[0]?.currency, 'EUR');
    assert.deepEqual(jackpots[0]?.games, ['g-known', 'g-new']);
    assert.equal(jackpots[0]?.pools[0]?.poolId, 'dl:main');
    assert.equal(jackpots[0]?.pools[0]?.wagers, 2);
    const amountMicro = BigInt(totals.rows[0]?.amount ?? '0');
    assert.equal(
      jackpots[0]?.pools[0]?.amountMinor,
      `${amountMicro / 1_000_000n}.${(amountMicro % 1_000_000n).toString().padStart(6, '0')}`,
    );
    const table = await jackpot(['jackpots', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^dl +EUR +main +1 /m);
    assert.match(table.stdout, /games of dl: g-known, g-new/);
    await producer.disconnect();
    await admin.disconnect();
  },
);
