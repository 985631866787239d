/**
 * The end-to-end benchmark's baselines, measured in the same run on the same machine:
 *
 * - kafkajs consuming the wager topic and doing nothing with the messages: the floor of any
 *   Node consumer of this broker;
 * - a raw COPY of the same wagers into a plain table (no index, no constraint, one row a wager with
 *   its pool shares as arrays, as the ledger keeps them): the floor of writing them to Postgres;
 * - the naive consumer (`bench/lib/naive-consumer.ts`), on a topic and database of its own.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { JackpotConfig } from '../../shared/src/domain/index.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { wagerRecord } from '../../shared/src/messages/wager.js';
import { createTraffic } from '../../loadgen/src/traffic.js';

export interface BaselineRun {
  readonly messages: number;
  readonly seconds: number;
  readonly perS: number;
  /** CPU of this process per message, µs (the consumer or the COPY's client side). */
  readonly cpuUsPerMessage: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** A fresh consumer group reads the first `n` messages of `topic` and does nothing with them. */
export async function consumeNothing(kafka: Kafka, topic: string, n: number): Promise<BaselineRun> {
  const consumer = kafka.consumer({
    groupId: `bench.nothing.${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
    maxBytes: 10 * 1024 * 1024,
  });
  let seen = 0;
  let firstAt = Number.NaN;
  let doneAt = Number.NaN;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  const t0 = performance.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 12,
      eachBatch: ({ batch }) => {
        if (Number.isNaN(firstAt)) {
          firstAt = performance.now();
          cpuAtFirst = process.cpuUsage();
        }
        seen += batch.messages.length;
        if (seen >= n && Number.isNaN(doneAt)) {
          doneAt = performance.now();
          cpu = process.cpuUsage(cpuAtFirst);
        }
        return Promise.resolve();
      },
    });
    while (Number.isNaN(doneAt)) {
      if (performance.now() - t0 > 300_000) throw new Error(`kafkajs read ${seen} of ${n} messages in 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  const seconds = (doneAt - firstAt) / 1000;
  return {
    messages: seen,
    seconds: round3(seconds),
    perS: Math.round(seen / seconds),
    cpuUsPerMessage: cpu === undefined ? 0 : round3((cpu.user + cpu.system) / seen),
  };
}

/** `n` wagers of the benchmark's traffic as ledger-shaped rows, COPYed into a plain table. */
export async function rawCopy(db: pg.Pool, config: JackpotConfig, n: number): Promise<BaselineRun> {
  const traffic = createTraffic({
    seed: 'raw-copy',
    games: config.games.map((gameId) => ({ gameId, currency: config.currency })),
  });
  const poolIds = `{${config.pools.map((p) => p.poolId).join(',')}}`;
  const chunks: string[] = [];
  let chunk = '';
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const e = traffic.next(now);
    if (e.kind !== 'wager') continue;
    const w = e.wager;
    const amount = BigInt(w.amountMinor);
    const shares = (ppm: (p: (typeof config.pools)[number]) => number): string =>
      `{${config.pools.map((p) => (amount * BigInt(ppm(p))).toString()).join(',')}}`;
    chunk += `${w.eventId}\t${w.occurredAt}\t${w.gameId}\t${w.playerId}\t${w.currency}\t${w.amountMinor}\t${poolIds}\t${shares((p) => p.contributionPpm)}\t${shares((p) => p.reservePpm)}\n`;
    if (chunk.length > 256 * 1024) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk !== '') chunks.push(chunk);
  const rows = chunks.reduce((s, c) => s + c.split('\n').length - 1, 0);
  const table = `public.bench_raw_ledger_${randomBytes(4).toString('hex')}`;
  const client = await db.connect();
  try {
    await client.query(
      `CREATE TABLE ${table} (event_id uuid, occurred_at timestamptz, game_id text, player_id text, wager_currency char(3),
         wager_minor bigint, pool_ids text[], contribution_micro bigint[], reserve_micro bigint[])`,
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pipeline(Readable.from(chunks), client.query(copyStreams.from(`COPY ${table} FROM STDIN`)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await client.query(`DROP TABLE ${table}`);
    return {
      messages: rows,
      seconds: round3(seconds),
      perS: Math.round(rows / seconds),
      cpuUsPerMessage: round3((cpu.user + cpu.system) / rows),
    };
  } finally {
    client.release();
  }
}

/** Puts `n` events of the benchmark's traffic (same mix: re-sent copies, invalid events) on `topic`. */
export async function prefillTopic(
  kafka: Kafka,
  topic: string,
  config: JackpotConfig,
  n: number,
): Promise<void> {
  const traffic = createTraffic({
    seed: 'naive',
    games: config.games.map((gameId) => ({ gameId, currency: config.currency })),
    dupRate: 0.02,
    invalidRate: 0.005,
  });
  const producer = createWagerProducer({ kafka, topic });
  await producer.connect();
  try {
    const sends: Promise<void>[] = [];
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const e = traffic.next(now);
      if (e.kind === 'invalid') sends.push(producer.sendRaw(e.key, Buffer.from(e.value, 'utf8')));
      else {
        const r = wagerRecord(e.wager);
        sends.push(producer.sendRaw(r.key, r.value));
      }
    }
    await Promise.all(sends);
  } finally {
    await producer.disconnect();
  }
}
