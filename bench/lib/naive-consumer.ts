/**
 * The baseline both throughput benchmarks compare against: a consumer a newcomer might write
 * first. kafkajs eachMessage; per wager one INSERT of its ledger row (the pools' shares as arrays)
 * and one UPDATE of the jackpot's pool_totals rows, each statement its own autocommit transaction. No dedupe, no fence,
 * no dead letters: it does less than the aggregator, so the ratio flatters it if anything.
 *
 * Used by `bench/aggregator.bench.ts` and `bench/e2e.bench.ts`; it writes the ledger's tables as
 * the migrations have them, so a change of the ledger's shape changes it here, once.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import type { JackpotConfig } from '../../shared/src/domain/index.js';
import { parseWager } from '../../shared/src/messages/wager.js';
import { ensureDayPartitions } from '../../shared/src/retention.js';

export interface NaiveRun {
  readonly events: number;
  readonly applied: number;
  readonly ledgerRows: number;
  readonly seconds: number;
  readonly eventsPerS: number;
  readonly appliedPerS: number;
}

const POLL_MS = 20;
const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Consumes the first `n` events of `topic` from its beginning into the database at `db.url`, where
 * `config` is configured, and times it from joining the group to the n-th event.
 */
export async function runNaive(
  kafka: Kafka,
  db: { url: string; pool: pg.Pool },
  config: JackpotConfig,
  topic: string,
  n: number,
  timeoutS: number,
): Promise<NaiveRun> {
  await ensureDayPartitions(db.pool, Date.now());
  const games = new Set(config.games);
  const pools = config.pools.map((p) => ({
    poolId: p.poolId,
    ppm: BigInt(p.contributionPpm),
    reservePpm: BigInt(p.reservePpm),
  }));
  const client = new pg.Client({ connectionString: db.url, application_name: 'naive-consumer' });
  await client.connect();
  const consumer = kafka.consumer({
    groupId: `bench.naive.${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  let seen = 0;
  let applied = 0;
  let rows = 0;
  let joinedAt = Number.NaN;
  let doneAt = Number.NaN;
  const t0 = performance.now();
  try {
    await consumer.connect();
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (Number.isNaN(joinedAt)) joinedAt = performance.now();
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (seen >= n) return;
        const parsed = parseWager(message.value, Date.now());
        if (parsed.ok && games.has(parsed.wager.gameId) && parsed.wager.currency === config.currency) {
          const w = parsed.wager;
          const amount = BigInt(w.amountMinor);
          // One ledger row a wager, its pool shares as arrays, as the aggregator writes it.
          await client.query(
            `INSERT INTO jackpot.ledger (event_id, occurred_at, game_id, player_id, wager_currency, wager_minor,
                                         pool_ids, cycles, contribution_micro, overflow_micro, reserve_micro)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            [
              w.eventId,
              w.occurredAt,
              w.gameId,
              w.playerId,
              w.currency,
              w.amountMinor,
              pools.map((p) => p.poolId),
              pools.map(() => 1),
              pools.map((p) => (amount * p.ppm).toString()),
              pools.map(() => '0'),
              pools.map((p) => (amount * p.reservePpm).toString()),
            ],
          );
          rows += pools.length;
          await client.query(
            `UPDATE jackpot.pool_totals SET amount_micro = amount_micro + $2::numeric * contribution_ppm, reserve_micro = reserve_micro + $2::numeric * reserve_ppm,
                    wagers_total = wagers_total + 1, version = version + 1, updated_at = now()
             WHERE jackpot_id = $1`,
            [config.jackpotId, w.amountMinor],
          );
          applied++;
        }
        if (++seen === n) doneAt = performance.now();
      },
    });
    while (Number.isNaN(doneAt)) {
      if (performance.now() - t0 > timeoutS * 1000)
        throw new Error(`naive consumer saw ${seen} of ${n} events after ${timeoutS} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await client.end().catch(() => undefined);
  }
  const seconds = (doneAt - (Number.isNaN(joinedAt) ? t0 : joinedAt)) / 1000;
  return {
    events: n,
    applied,
    ledgerRows: rows,
    seconds: round(seconds),
    eventsPerS: Math.round(n / seconds),
    appliedPerS: Math.round(applied / seconds),
  };
}
