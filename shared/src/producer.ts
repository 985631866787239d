/**
 * The wager producer: how game servers, the gateway and the load generator put wagers on
 * `jackpot.wagers.v1`. Each `send` resolves once the broker has the message (acks = all,
 * idempotent producer) and rejects when Kafka fails; callers never see a "maybe".
 *
 * kafkajs has no `linger.ms`, so messages wait here in an accumulator and leave as one
 * `producer.send` per batch: when `maxBatchMessages` are queued, or `lingerMs` after the first one
 * arrived, or on `flush()`. One batch is in flight at a time: the idempotent kafkajs producer holds
 * a lock per broker for the whole produce request anyway, so more would only queue inside kafkajs,
 * and one at a time keeps each player's wagers in order even across retries. While a batch is in
 * flight the next one fills, so throughput is about `maxBatchMessages` per round trip.
 *
 * After a failed batch the kafkajs producer is thrown away and a new one (new producer id) is
 * connected in the background. kafkajs rolls its sequence numbers back when a request fails; if the
 * broker had in fact written that request (a timeout after the write), the next batch would reuse
 * those numbers and the broker would drop it as a duplicate while acking it. A fresh producer id
 * makes that impossible. Until the new producer is connected, `send` rejects at once.
 */
import { randomFillSync } from 'node:crypto';
import { CompressionTypes, type Kafka, type Producer, type RetryOptions } from 'kafkajs';
import { AppError, toError } from './errors.js';
import { fromKafkaError, TOPICS } from './kafka.js';
import type { Logger } from './logger.js';
import { KeyHashPartitioner } from './partitioner.js';
import { traceHeaders } from './tracing.js';
import { encodeWager, type WagerMessage } from './messages/wager.js';

export interface ProducerOptions {
  readonly kafka: Kafka;
  /** Default `jackpot.wagers.v1`; tests use a topic of their own. */
  readonly topic?: string;
  /**
   * Most messages in one produce request. 1,000 wagers of ~200 bytes is ~200 kB, well under the
   * broker's 1 MB `message.max.bytes` even if every one went to the same partition.
   */
  readonly maxBatchMessages?: number;
  /**
   * How long the first message of a batch waits for company. 5 ms: a gateway request waits for
   * its own acks anyway, and a few ms buys batches of hundreds under load.
   */
  readonly lingerMs?: number;
  /**
   * Backpressure: `send` waits while this many messages are queued or in flight, so a fast caller
   * cannot grow memory without bound while Kafka is slow. 20,000 ≈ 4 MB of wagers.
   */
  readonly maxBufferedMessages?: number;
  /** Off by default: wagers are small and the broker is near; gzip costs more CPU than it saves. */
  readonly compression?: 'none' | 'gzip';
  /**
   * kafkajs retries of one batch before its sends reject. The idempotent kafkajs producer would
   * retry forever by default, and a caller (an HTTP request) would wait forever during an outage.
   * Default 5 retries, 300 ms doubling: about 10 s before an outage is reported. A retry by the
   * caller after that may duplicate a wager in Kafka, which is harmless: eventIds dedupe downstream.
   */
  readonly retry?: RetryOptions;
  /** How long to wait between attempts to replace a failed kafkajs producer; doubles up to 10 s. */
  readonly reconnectInitialDelayMs?: number;
  readonly logger?: Logger;
}

export interface WagerProducer {
  connect(): Promise<void>;
  /** Resolves once the broker has it (acks = all, idempotent producer); rejects if Kafka fails. Key = playerId. */
  send(wager: WagerMessage): Promise<void>;
  /**
   * Raw bytes, for forwarding, testing bad input, or a caller that encoded its wagers itself (the
   * benchmark's pre-generated traffic); key may be null, and a Buffer key is sent as its bytes.
   */
  sendRaw(key: string | Buffer | null, value: Buffer): Promise<void>;
  /** Sends what is queued now without waiting for the linger; resolves when all of it settled (errors go to each `send`). */
  flush(): Promise<void>;
  /** Stops taking messages, flushes, then closes the kafkajs producer. */
  disconnect(): Promise<void>;
  /** True between a successful connect and disconnect, except while a failed producer is being replaced. */
  isConnected(): boolean;
  /**
   * How many messages `send` takes now without waiting: `maxBufferedMessages` minus those queued or
   * in flight. The gateway refuses a request that does not fit (503) rather than hold it in memory.
   */
  room(): number;
}

/**
 * A new event id for a wager: a UUIDv7 (RFC 9562), i.e. the Unix time in milliseconds in the first
 * 48 bits, then the version, 74 random bits and the variant. Game servers should make their ids
 * this way (docs/contract.md, "This implementation"): any UUID is accepted, but ids that grow with
 * time are appended at the right edge of the duplicate check's index (jackpot.applied_events)
 * instead of landing on a random page of it, which keeps the pages a window touches in memory.
 * The random bits (from the OS CSPRNG, read 4 KiB at a time) make two ids of one millisecond, of
 * one process or of many, collide with probability ~2^-74.
 */
export function newEventId(nowMs: number = Date.now()): string {
  if (randomAt + 10 > RANDOM.length) {
    randomFillSync(RANDOM);
    randomAt = 0;
  }
  const b = ID_BYTES;
  // 48-bit big-endian millisecond timestamp (fits a double exactly until the year 10889).
  const high = Math.floor(nowMs / 2 ** 32);
  b.writeUInt16BE(high & 0xffff, 0);
  b.writeUInt32BE(nowMs >>> 0, 2);
  RANDOM.copy(b, 6, randomAt, randomAt + 10);
  randomAt += 10;
  b[6] = ((b[6] as number) & 0x0f) | 0x70; // version 7
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const RANDOM = Buffer.alloc(4096);
let randomAt = RANDOM.length;
const ID_BYTES = Buffer.alloc(16);

const DEFAULT_MAX_BATCH_MESSAGES = 1000;
const DEFAULT_LINGER_MS = 5;
const DEFAULT_MAX_BUFFERED_MESSAGES = 20_000;
const DEFAULT_PRODUCER_RETRY: RetryOptions = { retries: 5 };
const MAX_RECONNECT_DELAY_MS = 10_000;

interface Pending {
  readonly key: string | Buffer | null;
  readonly value: Buffer;
  /** The sender's trace context (`traceparent`…), when it sent inside a span. */
  readonly headers: Record<string, string> | undefined;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

type State = 'idle' | 'connected' | 'broken' | 'closing' | 'closed';

function positiveInt(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

export function createWagerProducer(opts: ProducerOptions): WagerProducer {
  const topic = opts.topic ?? TOPICS.wagers;
  const maxBatch = positiveInt('maxBatchMessages', opts.maxBatchMessages, DEFAULT_MAX_BATCH_MESSAGES, 1);
  const lingerMs = positiveInt('lingerMs', opts.lingerMs, DEFAULT_LINGER_MS, 0);
  const maxBuffered = positiveInt(
    'maxBufferedMessages',
    opts.maxBufferedMessages,
    DEFAULT_MAX_BUFFERED_MESSAGES,
    1,
  );
  const reconnectInitialDelayMs = positiveInt(
    'reconnectInitialDelayMs',
    opts.reconnectInitialDelayMs,
    500,
    1,
  );
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const retry = opts.retry ?? DEFAULT_PRODUCER_RETRY;
  const log = opts.logger?.child({ component: 'wager-producer', topic });

  let state: State = 'idle';
  let producer: Producer | null = null;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelayMs = reconnectInitialDelayMs;

  const queue: Pending[] = [];
  let inFlight = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  let lingerDue = false;
  // Counters of messages, monotonic: enqueued ≥ taken ≥ settled. Batches leave and settle in FIFO
  // order, so "everything enqueued before flush() was called has settled" is `settled ≥ target`.
  let enqueued = 0;
  let taken = 0;
  let settled = 0;
  let flushTarget = 0;
  const flushWaiters: { target: number; resolve: () => void }[] = [];
  /**
   * Messages sent while the buffer was full, in the order they were sent. A settled batch moves
   * as many as it made room for into the queue, first come first served, so one player's wagers
   * keep their order and a later send never overtakes a waiting one. (Waking every waiter to
   * re-check the room, as before, woke all of them on every settled batch, quadratic with many
   * blocked senders: 300,000 sends at once did not finish in minutes.)
   */
  const waiting: Pending[] = [];

  // A function, not an inline test, because TypeScript narrows `state` across an `await`.
  const isClosed = (): boolean => state === 'closing' || state === 'closed';

  function unavailable(message: string): AppError {
    return new AppError('KAFKA_UNAVAILABLE', message, { retryable: true });
  }

  async function newProducer(): Promise<Producer> {
    // The Java client's partitioning (murmur2 of the key), as kafkajs' DefaultPartitioner computes
    // it but without its per-message allocations (partitioner.ts).
    const p = opts.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry,
      createPartitioner: KeyHashPartitioner,
    });
    try {
      await p.connect();
    } catch (e) {
      await p.disconnect().catch(() => undefined);
      throw e;
    }
    return p;
  }

  function scheduleReconnect(): void {
    if (state !== 'broken' || reconnectTimer !== undefined) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void reconnect();
    }, reconnectDelayMs);
    reconnectTimer.unref();
  }

  async function reconnect(): Promise<void> {
    if (state !== 'broken') return;
    try {
      const p = await newProducer();
      if (state !== 'broken') {
        await p.disconnect().catch(() => undefined);
        return;
      }
      producer = p;
      state = 'connected';
      reconnectDelayMs = reconnectInitialDelayMs;
      log?.info('kafka producer reconnected');
    } catch (e) {
      log?.warn({ err: toError(e), retryInMs: reconnectDelayMs }, 'kafka producer reconnect failed');
      reconnectDelayMs = Math.min(MAX_RECONNECT_DELAY_MS, reconnectDelayMs * 2);
      scheduleReconnect();
    }
  }

  function markBroken(e: Error): void {
    if (state !== 'connected' && state !== 'closing') return;
    const old = producer;
    producer = null;
    if (old !== null) void old.disconnect().catch(() => undefined);
    if (state === 'closing') return;
    state = 'broken';
    log?.error({ err: e }, 'kafka send failed; replacing the producer');
    scheduleReconnect();
  }

  function settle(count: number): void {
    settled += count;
    while (waiting.length > 0 && enqueued - settled < maxBuffered) admit(waiting.shift() as Pending);
    for (let i = flushWaiters.length - 1; i >= 0; i--) {
      const w = flushWaiters[i];
      if (w !== undefined && w.target <= settled) {
        flushWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  async function sendBatch(batch: Pending[]): Promise<void> {
    try {
      const p = producer;
      if (p === null) throw unavailable('the Kafka producer is not connected');
      await p.send({
        topic,
        acks: -1,
        compression,
        messages: batch.map((m) =>
          m.headers === undefined
            ? { key: m.key, value: m.value }
            : { key: m.key, value: m.value, headers: m.headers },
        ),
      });
      for (const m of batch) m.resolve();
    } catch (e) {
      const failure = fromKafkaError(e, `Kafka did not take ${batch.length} message(s)`);
      for (const m of batch) m.reject(failure);
      markBroken(toError(e));
    }
  }

  function pump(): void {
    if (inFlight || queue.length === 0) return;
    if (!(queue.length >= maxBatch || lingerDue || taken < flushTarget)) return;
    const batch = queue.splice(0, maxBatch);
    taken += batch.length;
    lingerDue = false;
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
    // Messages left behind have waited at most as long as the batch that just left; they get a
    // fresh linger (or leave right after this batch if they already fill one).
    if (queue.length > 0) startLinger();
    inFlight = true;
    void sendBatch(batch).finally(() => {
      inFlight = false;
      settle(batch.length);
      pump();
    });
  }

  function startLinger(): void {
    if (lingerTimer !== undefined || lingerDue) return;
    lingerTimer = setTimeout(() => {
      lingerTimer = undefined;
      lingerDue = true;
      pump();
    }, lingerMs);
  }

  // Not `async`: a send costs one promise, whether it finds room or waits for it.
  function enqueue(key: string | Buffer | null, value: Buffer): Promise<void> {
    // Read before any await: the caller's span is the active context only until then.
    const headers = traceHeaders();
    if (state !== 'connected') {
      return Promise.reject(
        isClosed()
          ? unavailable('the producer is closed')
          : unavailable('the Kafka producer is not connected'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const m: Pending = { key, value, headers, resolve, reject };
      if (enqueued - settled >= maxBuffered || waiting.length > 0) {
        waiting.push(m);
      } else {
        admit(m);
        pump();
      }
    });
  }

  /** A message joins the queue: counted as buffered, and the linger starts if it is the first. */
  function admit(m: Pending): void {
    queue.push(m);
    enqueued++;
    startLinger();
  }

  async function flush(): Promise<void> {
    const target = enqueued;
    if (settled >= target) return;
    flushTarget = Math.max(flushTarget, target);
    const done = new Promise<void>((resolve) => flushWaiters.push({ target, resolve }));
    pump();
    await done;
  }

  return {
    async connect() {
      if (state === 'connected') return;
      if (isClosed()) throw unavailable('the producer is closed');
      const p = await newProducer();
      if (isClosed()) {
        await p.disconnect().catch(() => undefined);
        throw unavailable('the producer is closed');
      }
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      producer = p;
      state = 'connected';
      log?.info('kafka producer connected');
    },
    send: (wager) => enqueue(wager.playerId, encodeWager(wager)),
    sendRaw: (key, value) => enqueue(key, value),
    flush,
    async disconnect() {
      if (state === 'closed') return;
      const wasConnected = state === 'connected';
      state = 'closing';
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      // Senders blocked on backpressure are refused: nothing of theirs reached Kafka.
      for (const w of waiting.splice(0)) w.reject(unavailable('the producer is closed'));
      if (wasConnected) await flush();
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
      const p = producer;
      producer = null;
      state = 'closed';
      if (p !== null) await p.disconnect();
    },
    isConnected: () => state === 'connected',
    room: () => Math.max(0, maxBuffered - (enqueued - settled)),
  };
}
