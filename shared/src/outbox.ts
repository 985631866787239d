/**
 * Outbox relays: rows written in a business transaction (dead letters, wins) are published to
 * Kafka afterwards and then marked. A crash between publishing and marking publishes a row again
 * (at least once, never lost); each message carries its row's id so a reader can drop the copy.
 *
 * No database connection is held while Kafka is waited on. A relay claims a batch in one
 * autocommit statement (sets `relay_lease_until` on unpublished rows whose lease is over,
 * `FOR UPDATE SKIP LOCKED` so two claimers never take the same row), sends it with a bounded
 * timeout, then marks it with `UPDATE … WHERE published_at IS NULL`. A Kafka outage therefore
 * costs no connection: the gateway's pool stays free for wins, which must never wait on Kafka.
 * Other relays skip leased rows, so two processes relaying at once still send a row once; a relay
 * whose send fails hands its lease back, and one that dies leaves it to expire (`leaseMs`).
 * Within one process `createRelay` runs one relay at a time.
 */
import type { Message, Producer } from 'kafkajs';
import type { Db, Sql } from './db.js';
import type { ReasonCode } from './domain/wager.js';
import { AppError, toError } from './errors.js';
import { fromKafkaError } from './kafka.js';
import { awardRecord, type AwardKind } from './messages/award.js';
import { deadLetterRecord } from './messages/dead-letter.js';

/** The one thing a relay needs from a Kafka producer. */
export type SendPort = Pick<Producer, 'send'>;

export interface RelayOptions {
  /**
   * How long one batch may wait for Kafka before the relay gives up and hands its rows back for
   * the next run. Default 10 s: kafkajs' own retries (8, from 300 ms, 30 s request timeout) can
   * run for minutes in an outage, and a relay stuck that long delays every later one. The
   * abandoned send may still succeed later; its rows are then published twice, which readers
   * tolerate.
   */
  readonly sendTimeoutMs?: number;
}

const BATCH = 500;
const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/**
 * A claim's lease: the send timeout plus time to mark, with room for a slow database. Only a relay
 * that died mid-batch lets a lease run out, and its rows then wait this long (the relay timers
 * run every 5 s), which is the price of holding no lock across the send.
 */
const leaseMs = (sendTimeoutMs: number): number => sendTimeoutMs + 20_000;

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
    throw fromKafkaError(e, record.topic);
  } finally {
    clearTimeout(timer);
  }
}

/** One outbox table: how to claim a batch, turn it into messages, and mark or hand it back. */
interface Outbox<R> {
  readonly claim: (limit: number, leaseMs: number) => Sql;
  /** The rows as claimed are in no particular order (RETURNING); this sorts them. */
  readonly order: (a: R, b: R) => number;
  readonly id: (row: R) => string;
  readonly message: (row: R) => Message;
  readonly markPublished: (ids: string[]) => Sql;
  readonly release: (ids: string[]) => Sql;
}

async function relay<R extends object>(
  pool: Db,
  producer: SendPort,
  topic: string,
  outbox: Outbox<R>,
  opts: RelayOptions,
): Promise<number> {
  const timeoutMs = opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  let total = 0;
  for (;;) {
    const claim = outbox.claim(BATCH, leaseMs(timeoutMs));
    const rows = (await pool.query<R>(claim.text, claim.values)).rows.sort(outbox.order);
    if (rows.length === 0) return total;
    const ids = rows.map(outbox.id);
    try {
      await sendWithin(producer, { topic, acks: -1, messages: rows.map(outbox.message) }, timeoutMs);
    } catch (e) {
      // Handed back so the next run (the timer) retries at once instead of after the lease.
      const release = outbox.release(ids);
      await pool.query(release.text, release.values).catch(() => undefined);
      throw e;
    }
    const mark = outbox.markPublished(ids);
    await pool.query(mark.text, mark.values);
    total += rows.length;
    if (rows.length < BATCH) return total;
  }
}

interface DeadLetterRow {
  id: string;
  /** Only the aggregator writes dead letters, and only with reason codes. */
  reason: ReasonCode;
  kafka_key: Buffer | null;
  payload: Buffer;
}

const DEAD_LETTERS: Outbox<DeadLetterRow> = {
  claim: (limit, lease) => ({
    // By the whole primary key (id, received_at): by id alone, a day's partition without
    // statistics yet (every new day's) was scanned whole on every claim to find the rows picked.
    text: `UPDATE jackpot.dead_letters d SET relay_lease_until = now() + make_interval(secs => $2)
            WHERE (d.id, d.received_at) IN (SELECT id, received_at FROM jackpot.dead_letters
                            WHERE published_at IS NULL AND (relay_lease_until IS NULL OR relay_lease_until < now())
                            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING d.id::text AS id, d.reason, d.kafka_key, d.payload`,
    values: [limit, lease / 1000],
  }),
  order: (a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1),
  id: (r) => r.id,
  message: (r) => deadLetterRecord({ id: r.id, reason: r.reason, key: r.kafka_key, payload: r.payload }),
  markPublished: (ids) => ({
    text: 'UPDATE jackpot.dead_letters SET published_at = now() WHERE id = ANY($1::bigint[]) AND published_at IS NULL',
    values: [ids],
  }),
  release: (ids) => ({
    text: 'UPDATE jackpot.dead_letters SET relay_lease_until = NULL WHERE id = ANY($1::bigint[]) AND published_at IS NULL',
    values: [ids],
  }),
};

/** Publishes every unpublished dead letter; returns how many. */
export function relayDeadLetters(
  pool: Db,
  producer: SendPort,
  topic: string,
  opts: RelayOptions = {},
): Promise<number> {
  return relay(pool, producer, topic, DEAD_LETTERS, opts);
}

interface WinRow {
  win_id: string;
  pool_id: string;
  cycle: number;
  amount_minor: string;
  kind: AwardKind;
  game_id: string;
  player_id: string;
  won_at: Date;
}

const WINS: Outbox<WinRow> = {
  claim: (limit, lease) => ({
    text: `UPDATE jackpot.wins w SET relay_lease_until = now() + make_interval(secs => $2)
            WHERE w.win_id IN (SELECT win_id FROM jackpot.wins
                                WHERE published_at IS NULL AND (relay_lease_until IS NULL OR relay_lease_until < now())
                                ORDER BY won_at, win_id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING w.win_id::text AS win_id, w.pool_id, w.cycle, w.amount_minor::text AS amount_minor, w.kind,
                     w.game_id, w.player_id, w.won_at`,
    values: [limit, lease / 1000],
  }),
  // won_at, then win_id as Postgres orders uuids (their bytes, i.e. their hex text).
  order: (a, b) =>
    a.won_at.getTime() - b.won_at.getTime() || (a.win_id < b.win_id ? -1 : a.win_id > b.win_id ? 1 : 0),
  id: (r) => r.win_id,
  message: (r) =>
    awardRecord({
      winId: r.win_id,
      poolId: r.pool_id,
      cycle: r.cycle,
      amountMinor: BigInt(r.amount_minor),
      kind: r.kind,
      gameId: r.game_id,
      playerId: r.player_id,
      wonAt: r.won_at.toISOString(),
    }),
  markPublished: (ids) => ({
    text: 'UPDATE jackpot.wins SET published_at = now() WHERE win_id = ANY($1::uuid[]) AND published_at IS NULL',
    values: [ids],
  }),
  release: (ids) => ({
    text: 'UPDATE jackpot.wins SET relay_lease_until = NULL WHERE win_id = ANY($1::uuid[]) AND published_at IS NULL',
    values: [ids],
  }),
};

/** Publishes every unpublished win to the awards topic (key poolId); returns how many. */
export function relayAwards(
  pool: Db,
  producer: SendPort,
  topic: string,
  opts: RelayOptions = {},
): Promise<number> {
  return relay(pool, producer, topic, WINS, opts);
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
