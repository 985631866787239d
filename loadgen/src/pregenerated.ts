/**
 * A run's traffic made before its clock starts (`LoadOptions.pregenerate`, used by `npm run bench`):
 * every event drawn from the same seeded generator as the live path (`createTraffic`), encoded as
 * the exact bytes the producer library would send (`encodeWager`, the invalid events' own bytes),
 * keyed by playerId, and assigned to its producer, so that the timed phase only hands finished
 * messages to the producer library.
 *
 * Why: a game server makes its wagers on its own machine; the pipeline's cost is what happens from
 * the send on. Inventing ~50,000 wagers a second (seeded randomness, UUIDv7 ids, JSON) and pricing
 * each against the jackpot configuration with BigInt, on the same two cores as the broker,
 * Postgres and the services, made the load generator the largest CPU consumer of the benchmark.
 *
 * The expectation stays the independent ledger's (`ledger.ts`, unchanged): while generating, each
 * event goes through a ledger as sent and acknowledged, and a snapshot is kept every `CHUNK` events.
 * A run sends a whole number of chunks (the last chunk is finished when the time is up), so when
 * every message was acknowledged the expectation is exactly the snapshot after the events sent. If
 * any was not, the ledger is rebuilt from the events' columns with only the acknowledged ones
 * (`replay`): the same rules as the live path, exact, slower, and only on that path.
 *
 * Memory: the encoded messages live in one Buffer (~190 bytes an event, outside the JS heap) and a
 * few typed arrays (~20 bytes an event), so the heap the garbage collector walks stays small.
 */
import { encodeWager } from '../../shared/src/messages/wager.js';
import type { GameShares } from './jackpot-config.js';
import { createLedger, type LedgerSnapshot, type PoolExpectation } from './ledger.js';
import {
  createTraffic,
  INVALID_REASONS,
  type GameSpec,
  type InvalidReason,
  type TrafficEvent,
  type TrafficOptions,
} from './traffic.js';

/** Events between two ledger snapshots; a run sends a multiple of this. */
export const CHUNK = 256;

const FRESH = 0;
const DUPLICATE = 1;
const INVALID = 2;

export interface Pregenerated {
  /** Events made (a multiple of `CHUNK`). */
  readonly count: number;
  /** The producer (0 .. producers - 1) event `i` goes through: the live path's shard of its key. */
  producerOf(i: number): number;
  /** Whether event `i` is a valid wager (original or copy): a failed send of one is retried. */
  isWager(i: number): boolean;
  key(i: number): Buffer;
  value(i: number): Buffer;
  /**
   * The ledger's snapshot after the first `n` events (`n` a multiple of `CHUNK`), `acked(i)` telling
   * which were acknowledged; fast when all of them were. Its `acked` counts what was acknowledged;
   * `errors` are the caller's to count (they are 0 here).
   */
  expectation(n: number, acked: (i: number) => boolean): LedgerSnapshot;
  /** Bytes of the encoded messages. */
  readonly bytes: number;
}

export interface PregenerateOptions {
  readonly traffic: TrafficOptions;
  readonly config: GameShares;
  /** At least this many events are made, rounded up to a whole chunk. */
  readonly count: number;
  /** The clock the events are stamped with: event `i` at `startMs + i / ratePerS` seconds. */
  readonly startMs: number;
  readonly ratePerS: number;
  /** How many producers the sender spreads keys over, and its shard function. */
  readonly producers: number;
  readonly shard: (key: string, n: number) => number;
}

export function pregenerate(opts: PregenerateOptions): Pregenerated {
  const count = Math.max(CHUNK, Math.ceil(opts.count / CHUNK) * CHUNK);
  if (opts.producers > 255) throw new RangeError(`at most 255 producers, got ${opts.producers}`);
  const traffic = createTraffic(opts.traffic);
  const games: readonly GameSpec[] = opts.traffic.games;
  const gameIndex = new Map(games.map((g, i) => [g.gameId, i]));
  const ledger = createLedger(opts.config);
  const checkpoints: LedgerSnapshot[] = [ledger.snapshot()];

  let data = Buffer.allocUnsafe(Math.min(2 ** 31, count * 200));
  let at = 0;
  const start = new Float64Array(count);
  const keyLength = new Uint8Array(count);
  const valueLength = new Uint16Array(count);
  const producer = new Uint8Array(count);
  const kind = new Uint8Array(count);
  const reason = new Uint8Array(count);
  const game = new Uint16Array(count);
  const origin = new Int32Array(count);
  const amount = new Float64Array(count);

  const put = (text: string | Buffer): number => {
    const length = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
    if (at + length > data.length) {
      const grown = Buffer.allocUnsafe(Math.max(data.length * 2, at + length));
      data.copy(grown, 0, 0, at);
      data = grown;
    }
    const written = typeof text === 'string' ? data.write(text, at, 'utf8') : text.copy(data, at);
    at += written;
    return written;
  };

  const msPerEvent = 1000 / opts.ratePerS;
  for (let i = 0; i < count; i++) {
    const event = traffic.next(Math.floor(opts.startMs + i * msPerEvent));
    ledger.sent(event);
    ledger.acked(event);
    const key = event.kind === 'invalid' ? event.key : event.wager.playerId;
    start[i] = at;
    const kl = put(key);
    if (kl > 255) throw new RangeError(`key of ${kl} bytes: ${key}`);
    keyLength[i] = kl;
    const vl = put(event.kind === 'invalid' ? event.value : encodeWager(event.wager));
    if (vl > 65_535) throw new RangeError(`message of ${vl} bytes`);
    valueLength[i] = vl;
    producer[i] = opts.producers === 1 ? 0 : opts.shard(key, opts.producers);
    if (event.kind === 'invalid') {
      kind[i] = INVALID;
      reason[i] = INVALID_REASONS.indexOf(event.reason);
    } else {
      kind[i] = event.duplicate ? DUPLICATE : FRESH;
      origin[i] = event.origin;
      game[i] = gameIndex.get(event.wager.gameId) ?? 0;
      amount[i] = event.wager.amountMinor;
    }
    if ((i + 1) % CHUNK === 0) checkpoints.push(ledger.snapshot());
  }

  /** Event `i` as the ledger sees it: the fields its rules read. */
  const eventAt = (i: number): TrafficEvent => {
    if (kind[i] === INVALID)
      return {
        kind: 'invalid',
        reason: INVALID_REASONS[reason[i] ?? 0] as InvalidReason,
        key: '',
        value: '',
      };
    const g = games[game[i] ?? 0] as GameSpec;
    return {
      kind: 'wager',
      origin: origin[i] ?? 0,
      duplicate: kind[i] === DUPLICATE,
      wager: {
        eventId: '',
        occurredAt: '',
        gameId: g.gameId,
        playerId: '',
        currency: g.currency,
        amountMinor: amount[i] ?? 0,
      },
    };
  };

  return {
    count,
    bytes: at,
    producerOf: (i) => producer[i] ?? 0,
    isWager: (i) => kind[i] !== INVALID,
    key: (i) => data.subarray(start[i], (start[i] ?? 0) + (keyLength[i] ?? 0)),
    value: (i) => {
      const s = (start[i] ?? 0) + (keyLength[i] ?? 0);
      return data.subarray(s, s + (valueLength[i] ?? 0));
    },
    expectation(n, acked) {
      if (n % CHUNK !== 0 || n < 0 || n > count)
        throw new RangeError(`expectation after ${n} events: not a whole number of chunks of ${CHUNK}`);
      let all = true;
      for (let i = 0; i < n && all; i++) all = acked(i);
      if (all) return checkpoints[n / CHUNK] as LedgerSnapshot;
      const replay = createLedger(opts.config);
      for (let i = 0; i < n; i++) {
        const event = eventAt(i);
        replay.sent(event);
        if (acked(i)) replay.acked(event);
      }
      return replay.snapshot();
    },
  };
}

function add<K extends string>(
  a: Readonly<Partial<Record<K, number>>>,
  b: Readonly<Partial<Record<K, number>>>,
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = { ...a };
  for (const [k, v] of Object.entries(b) as [K, number | undefined][]) out[k] = (out[k] ?? 0) + (v ?? 0);
  return out;
}

/** Two ledgers' snapshots as one (the pre-generated traffic's and the probes'). */
export function mergeSnapshots(a: LedgerSnapshot, b: LedgerSnapshot): LedgerSnapshot {
  const pools = new Map<string, PoolExpectation>();
  for (const [id, p] of a.pools) pools.set(id, { ...p });
  for (const [id, p] of b.pools) {
    const q = pools.get(id);
    if (q === undefined) pools.set(id, { ...p });
    else
      pools.set(id, {
        jackpotId: q.jackpotId,
        wagers: q.wagers + p.wagers,
        wageredMinor: q.wageredMinor + p.wageredMinor,
        contributionMicro: q.contributionMicro + p.contributionMicro,
        reserveMicro: q.reserveMicro + p.reserveMicro,
      });
  }
  return {
    sent: a.sent + b.sent,
    distinctSent: a.distinctSent + b.distinctSent,
    duplicates: a.duplicates + b.duplicates,
    invalid: add(a.invalid, b.invalid),
    probes: a.probes + b.probes,
    acked: a.acked + b.acked,
    errors: a.errors + b.errors,
    errorsByCode: add(a.errorsByCode, b.errorsByCode) as Record<string, number>,
    distinct: a.distinct + b.distinct,
    unconfirmed: a.unconfirmed + b.unconfirmed,
    deadLetters: add(a.deadLetters, b.deadLetters),
    unconfirmedInvalid: a.unconfirmedInvalid + b.unconfirmedInvalid,
    pools,
  };
}
