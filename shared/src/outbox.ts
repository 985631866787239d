/**
 * Outbox relays: rows written in a business transaction (dead letters, wins) are published to
 * Kafka afterwards and then marked. A crash between publishing and marking publishes a row again
 * (at least once, never lost); each message carries its row's id so a reader can drop the copy.
 * `FOR UPDATE SKIP LOCKED` lets several replicas relay side by side without sending a row twice
 * in the normal case.
 */
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { withTransaction } from './db.js';

export interface OutboxTopics {
  readonly dlqTopic: string;
  readonly awardsTopic: string;
}

const BATCH = 500;

/** Publishes every unpublished dead letter; returns how many. */
export async function relayDeadLetters(pool: pg.Pool, producer: Producer, topic: string): Promise<number> {
  let total = 0;
  for (;;) {
    const sent = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string; reason: string; kafka_key: Buffer | null; payload: Buffer }>({
        text: `SELECT id::text AS id, reason, kafka_key, payload FROM jackpot.dead_letters
               WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        values: [BATCH],
      });
      if (rows.length === 0) return 0;
      await producer.send({
        topic,
        acks: -1,
        messages: rows.map((r) => ({ key: r.kafka_key, value: r.payload, headers: { 'x-dlq-reason': r.reason, 'x-dead-letter-id': r.id } })),
      });
      await client.query({ text: 'UPDATE jackpot.dead_letters SET published_at = now() WHERE id = ANY($1::bigint[])', values: [rows.map((r) => r.id)] });
      return rows.length;
    });
    total += sent;
    if (sent < BATCH) return total;
  }
}

/** The contract's award message. */
export interface Award {
  readonly winId: string;
  readonly poolId: string;
  readonly cycle: number;
  readonly amountMinor: number;
  readonly kind: 'claim' | 'mystery';
  readonly gameId: string;
  readonly playerId: string;
  readonly wonAt: string;
}

/** Publishes every unpublished win to the awards topic (key poolId); returns how many. */
export async function relayAwards(pool: pg.Pool, producer: Producer, topic: string): Promise<number> {
  let total = 0;
  for (;;) {
    const sent = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ win_id: string; pool_id: string; cycle: number; amount_minor: string; kind: 'claim' | 'mystery'; game_id: string; player_id: string; won_at: Date }>({
        text: `SELECT win_id::text, pool_id, cycle, amount_minor::text, kind, game_id, player_id, won_at FROM jackpot.wins
               WHERE published_at IS NULL ORDER BY won_at, win_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        values: [BATCH],
      });
      if (rows.length === 0) return 0;
      await producer.send({
        topic,
        acks: -1,
        messages: rows.map((r) => {
          const award: Award = {
            winId: r.win_id,
            poolId: r.pool_id,
            cycle: r.cycle,
            amountMinor: Number(r.amount_minor),
            kind: r.kind,
            gameId: r.game_id,
            playerId: r.player_id,
            wonAt: r.won_at.toISOString(),
          };
          return { key: r.pool_id, value: JSON.stringify(award), headers: { 'x-win-id': r.win_id } };
        }),
      });
      await client.query({ text: 'UPDATE jackpot.wins SET published_at = now() WHERE win_id = ANY($1::uuid[])', values: [rows.map((r) => r.win_id)] });
      return rows.length;
    });
    total += sent;
    if (sent < BATCH) return total;
  }
}
