/**
 * Outbox relays: rows written in a business transaction (dead letters, wins) are published to
 * Kafka afterwards and then marked. A crash between publishing and marking publishes a row again
 * (at least once, never lost); each message carries its row's id so a reader can drop the copy.
 *
 * No database connection is held while Kafka is waited on: a relay reads a batch of unpublished
 * rows (one statement, connection released), sends it, then marks it with
 * `UPDATE … WHERE published_at IS NULL` (another statement). A Kafka outage therefore costs no
 * connection: the gateway's pool stays free for wins, which must never wait on Kafka. The price is
 * that two processes relaying at the same moment may both send the same rows (there is no row
 * lock any more to make the second skip them); readers already drop copies by
 * `x-dead-letter-id` / `winId`. Within one process `createRelay` runs one relay at a time.
 */
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { AppError, toError } from './errors.js';

export interface OutboxTopics {
  readonly dlqTopic: string;
  readonly awardsTopic: string;
}

/** The one thing a relay needs from a Kafka producer. */
export type SendPort = Pick<Producer, 'send'>;

export interface RelayOptions {
  /**
   * How long one batch may wait for Kafka before the relay gives up (the rows stay unpublished
   * for the next run). Default 10 s: kafkajs' own retries (8, from 300 ms, 30 s request timeout)
   * can run for minutes in an outage, and a relay stuck that long delays every later one. The
   * abandoned send may still succeed later; its rows are then published twice, which readers
   * tolerate.
   */
  readonly sendTimeoutMs?: number;
}

const BATCH = 500;
const DEFAULT_SEND_TIMEOUT_MS = 10_000;

async function sendWithin(
  producer: SendPort,
  record: Parameters<SendPort['send']>[0],
  ms: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      producer.send(record),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AppError('KAFKA_UNAVAILABLE', `${record.topic}: no acknowledgement within ${ms} ms`, {
                retryable: true,
              }),
            ),
          ms,
        );
      }),
    ]);
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('KAFKA_UNAVAILABLE', `${record.topic}: ${toError(e).message}`, {
      retryable: true,
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Publishes every unpublished dead letter; returns how many. */
export async function relayDeadLetters(
  pool: pg.Pool,
  producer: SendPort,
  topic: string,
  opts: RelayOptions = {},
): Promise<number> {
  const timeoutMs = opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{
      id: string;
      reason: string;
      kafka_key: Buffer | null;
      payload: Buffer;
    }>({
      text: `SELECT id::text AS id, reason, kafka_key, payload FROM jackpot.dead_letters
             WHERE published_at IS NULL ORDER BY id LIMIT $1`,
      values: [BATCH],
    });
    if (rows.length === 0) return total;
    await sendWithin(
      producer,
      {
        topic,
        acks: -1,
        messages: rows.map((r) => ({
          key: r.kafka_key,
          value: r.payload,
          headers: { 'x-dlq-reason': r.reason, 'x-dead-letter-id': r.id },
        })),
      },
      timeoutMs,
    );
    await pool.query({
      text: 'UPDATE jackpot.dead_letters SET published_at = now() WHERE id = ANY($1::bigint[]) AND published_at IS NULL',
      values: [rows.map((r) => r.id)],
    });
    total += rows.length;
    if (rows.length < BATCH) return total;
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
export async function relayAwards(
  pool: pg.Pool,
  producer: SendPort,
  topic: string,
  opts: RelayOptions = {},
): Promise<number> {
  const timeoutMs = opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{
      win_id: string;
      pool_id: string;
      cycle: number;
      amount_minor: string;
      kind: 'claim' | 'mystery';
      game_id: string;
      player_id: string;
      won_at: Date;
    }>({
      text: `SELECT win_id::text, pool_id, cycle, amount_minor::text, kind, game_id, player_id, won_at FROM jackpot.wins
             WHERE published_at IS NULL ORDER BY won_at, win_id LIMIT $1`,
      values: [BATCH],
    });
    if (rows.length === 0) return total;
    await sendWithin(
      producer,
      {
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
      },
      timeoutMs,
    );
    await pool.query({
      text: 'UPDATE jackpot.wins SET published_at = now() WHERE win_id = ANY($1::uuid[]) AND published_at IS NULL',
      values: [rows.map((r) => r.win_id)],
    });
    total += rows.length;
    if (rows.length < BATCH) return total;
  }
}

export interface Relay {
  /**
   * Runs the relay now or, when a run is in progress, once more after it (however many requests
   * arrive meanwhile, they share that one run). Resolves when a run that started after this
   * request has ended; never rejects (errors go to `onError`). After a failed run the waiting
   * requests resolve without another run: the caller's timer retries, so a Kafka that fails fast
   * is not hit once per win.
   */
  request(): Promise<void>;
  /** Resolves when no run is in progress (shutdown). */
  idle(): Promise<void>;
}

/**
 * The single-flight guard of a relay: one run at a time per process. Without it a burst of wins
 * during a Kafka outage starts one relay per win, each waiting on Kafka.
 */
export function createRelay(opts: {
  readonly run: () => Promise<unknown>;
  readonly onError: (e: Error) => void;
}): Relay {
  let driving: Promise<void> | null = null;
  /** Requests made during the run in progress: they wait for the next one. */
  let waiting: Array<() => void> = [];

  const runOnce = async (): Promise<boolean> => {
    try {
      await opts.run();
      return true;
    } catch (e) {
      opts.onError(toError(e));
      return false;
    }
  };

  const drive = async (first: () => void): Promise<void> => {
    let served = [first];
    for (;;) {
      const ok = await runOnce();
      for (const resolve of served) resolve();
      served = waiting;
      waiting = [];
      if (served.length === 0) break;
      if (!ok) {
        for (const resolve of served) resolve();
        break;
      }
    }
    driving = null;
  };

  return {
    request: () =>
      new Promise<void>((resolve) => {
        if (driving === null) driving = drive(resolve);
        else waiting.push(resolve);
      }),
    async idle() {
      while (driving !== null) await driving;
    },
  };
}
