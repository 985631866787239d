/**
 * `report` against real services: the gateway, an aggregator and the projector as compiled child
 * processes on a fresh database and topics, wagers flowing through the gateway while it samples.
 * Then the aggregator is stopped while wagers keep arriving: the lag grows and nothing answers.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { createApiKey } from '../../shared/src/api-keys.js';
import type { Figures, Verdict } from '../../services/cli/src/bottleneck.js';
import { createTestDatabase } from '../helpers/db.js';
import { asEvent, seedJackpot, wager } from '../helpers/fixtures.js';
import { kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess } from '../helpers/processes.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();

const jackpot = (args: readonly string[]): Promise<CliRun> => runCli(args, { DATABASE_URL: db.url });

interface ReportJson {
  figures: Figures;
  services: { service: string; up: boolean }[];
  verdict: Verdict;
}

/** Runs `work` again and again until `done` settles. */
async function whileRunning<T>(done: Promise<T>, work: () => Promise<unknown>): Promise<T> {
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    await work();
    await new Promise((r) => setTimeout(r, 50));
  }
  return done;
}

void test(
  'report reads the services and the lag, and names a bottleneck with its numbers',
  { timeout: 180_000 },
  async () => {
    await seedJackpot(db.pool, {
      jackpotId: 'rep',
      currency: 'EUR',
      pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
      games: ['rep-g'],
    });
    const topic = await randomTopic('rep-wagers', 2);
    const group = randomGroupId('rep');
    const env = {
      DATABASE_URL: db.url,
      AGGREGATOR_TOPIC: topic,
      INGEST_TOPIC: topic,
      POOL_UPDATES_TOPIC: await randomTopic('rep-updates', 1),
      DLQ_TOPIC: await randomTopic('rep-dlq', 1),
      AWARDS_TOPIC: await randomTopic('rep-awards', 1),
      AGGREGATOR_GROUP_ID: group,
      AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    };
    const [ingest, projector, aggregator] = await Promise.all([
      startServiceProcess('ingest', env),
      startServiceProcess('projector', { ...env, PROJECTOR_TOPIC: env.POOL_UPDATES_TOPIC }),
      startServiceProcess('aggregator', env),
    ]);
    await Promise.all([ingest, projector, aggregator].map((p) => p.waitReady(90_000)));
    const key = (await createApiKey(db.pool, { role: 'game', name: 'rep', jackpots: 'all' })).key;
    const url = (p: { port: number }) => `http://127.0.0.1:${p.port}`;
    const urls = [
      '--group',
      group,
      '--topic',
      topic,
      '--projector',
      url(projector),
      '--gateway',
      url(ingest),
    ];

    let sent = 0;
    const post = async () => {
      const wagers = Array.from({ length: 50 }, (_, i) =>
        wager({ gameId: 'rep-g', playerId: `p-${(sent + i) % 97}` }),
      );
      const res = await fetch(`${url(ingest)}/v1/wagers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ wagers }),
      });
      assert.equal(res.status, 202, await res.text());
      sent += wagers.length;
    };
    await post();
    const running = await whileRunning(
      jackpot(['report', '--aggregator', url(aggregator), ...urls, '--interval', '3', '--json']),
      post,
    );
    assert.equal(running.code, 0, running.stderr);
    const r = JSON.parse(running.stdout) as ReportJson;
    assert.deepEqual(
      r.services.map((s) => [s.service, s.up]),
      [
        ['aggregator-1', true],
        ['projector', true],
        ['gateway', true],
      ],
    );
    assert.ok((r.figures.producedPerS ?? 0) > 50, `wagers in: ${JSON.stringify(r.figures)}`);
    assert.ok((r.figures.appliedPerS ?? 0) > 50, `applied: ${JSON.stringify(r.figures)}`);
    assert.ok(r.figures.windowBusy !== null && r.figures.windowBusy > 0 && r.figures.windowBusy <= 1);
    // The aggregator's own CPU (process_cpu_time_total): some, and no more than the machine has.
    const cpu = r.figures.aggregatorCpuCores;
    assert.ok(cpu !== null && cpu > 0 && cpu <= availableParallelism(), `aggregator CPU ${cpu} cores`);
    assert.ok((r.figures.phaseSeconds['copy'] ?? 0) > 0, JSON.stringify(r.figures.phaseSeconds));
    assert.ok((r.figures.phaseSeconds['claim'] ?? 0) > 0, JSON.stringify(r.figures.phaseSeconds));
    assert.ok(r.figures.gatewayP95Ms !== null && r.figures.gatewayP95Ms > 0);
    assert.ok((r.figures.gatewayRequestsPerS ?? 0) > 1);
    assert.ok(['none', 'gateway', 'postgres', 'aggregator-cpu', 'kafka'].includes(r.verdict.bottleneck));
    assert.ok(r.verdict.because.length > 0);

    // Text: the same, for a person.
    const text = await jackpot(['report', '--aggregator', url(aggregator), ...urls, '--interval', '1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /aggregator-1 +up/);
    assert.match(text.stdout, /gateway +up/);
    assert.match(text.stdout, /^bottleneck: \S+/m);
    assert.match(text.stdout, /aggregator CPU +\d+\.\d\d cores/);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produce = () =>
      producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 200 }, () => asEvent(wager({ gameId: 'rep-g' }))).map((e) => ({
          key: e.key,
          value: e.value,
        })),
      });
    // Postgres holds the pool's row (a long transaction elsewhere): the aggregator's window waits on
    // the lock and records nothing while the lag grows. The verdict must be Postgres, not Kafka.
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM jackpot.pool_totals WHERE pool_id = 'rep:main' FOR UPDATE");
      await produce();
      const locked = await whileRunning(
        jackpot(['report', '--aggregator', url(aggregator), ...urls, '--interval', '3', '--json']),
        produce,
      );
      assert.equal(locked.code, 0, locked.stderr);
      const l = JSON.parse(locked.stdout) as ReportJson;
      assert.ok((l.figures.lagEnd ?? 0) - (l.figures.lagStart ?? 0) > 200, JSON.stringify(l));
      assert.ok(
        (l.figures.pgLockWaits ?? 0) >= 1,
        `${JSON.stringify(l.figures)}\n${aggregator.output().slice(-3000)}`,
      );
      assert.equal(l.verdict.bottleneck, 'postgres', JSON.stringify(l));
      assert.match(l.verdict.because.join(' '), /backend\(s\) wait on locks/);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }

    // The aggregator stops; wagers keep arriving straight on the topic: the lag grows, nobody answers.
    aggregator.child.kill('SIGTERM');
    await aggregator.exited();
    const stalled = await whileRunning(
      jackpot(['report', '--aggregator', url(aggregator), ...urls, '--interval', '2', '--json']),
      produce,
    );
    await producer.disconnect();
    assert.equal(stalled.code, 0, stalled.stderr);
    const s = JSON.parse(stalled.stdout) as ReportJson;
    assert.equal(s.services[0]?.up, false);
    assert.ok((s.figures.lagEnd ?? 0) - (s.figures.lagStart ?? 0) > 200, JSON.stringify(s.figures));
    assert.equal(s.figures.appliedPerS, 0);
    assert.equal(s.verdict.bottleneck, 'unknown');
    assert.match(s.verdict.because.join(' '), /no aggregator answered/);
    assert.match(s.verdict.notes.join(' '), /1 of 1 aggregator replica\(s\) did not answer/);
  },
);
