/**
 * The record of what a load run sent and what the pipeline must therefore show: per pool, the sum
 * of the contributions of every distinct wager the pipeline acknowledged (a duplicate counts once,
 * an invalid event counts zero), and per reason the number of dead letters to expect.
 *
 * Computed independently of the aggregator, with plain BigInt: amountMinor × ppm micro-units.
 *
 * "Acknowledged" is the line: a wager counts as soon as any one of its copies was acked (Kafka
 * acks = all, or a 202 from the gateway). A wager none of whose copies was acked may or may not
 * have arrived (a timeout can come after the write); those are reported as `unconfirmed`, and
 * while there are any, a reconciliation can only check the expectation as a lower bound.
 */
import { writeFile } from 'node:fs/promises';
import type { GameConfig, GameShares } from './jackpot-config.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import type { InvalidReason, TrafficEvent } from './traffic.js';

/** Separate number spaces of `origin`: the main traffic and the latency probe count their wagers apart. */
export type Stream = 'traffic' | 'probe';

export interface PoolExpectation {
  readonly jackpotId: string;
  /** Distinct acknowledged wagers booked to the pool. */
  wagers: number;
  wageredMinor: bigint;
  contributionMicro: bigint;
  reserveMicro: bigint;
}

/**
 * Dead-letter reasons the ledger expects: the generator's; also `unknown_game` and
 * `currency_mismatch` for a "valid" wager the configuration passed in does not cover.
 */
export type ExpectedReason = InvalidReason;

export interface LedgerSnapshot {
  /** Messages handed to the pipeline, copies and invalid ones included. */
  readonly sent: number;
  /** Distinct valid wagers sent (probes included). */
  readonly distinctSent: number;
  /** Copies of an earlier wager sent. */
  readonly duplicates: number;
  /** Invalid events sent, by reason (valid wagers on games the configuration lacks included). */
  readonly invalid: Readonly<Partial<Record<InvalidReason, number>>>;
  readonly probes: number;
  /** Messages acknowledged. */
  readonly acked: number;
  /** Messages given up on, after the sender's retries. */
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Distinct valid wagers with at least one acknowledged copy: what the ledger must show. */
  readonly distinct: number;
  /** Distinct valid wagers sent of which no copy was acknowledged: fate unknown. */
  readonly unconfirmed: number;
  /** Dead letters the pipeline must write for the acknowledged invalid events, by reason. */
  readonly deadLetters: Readonly<Partial<Record<ExpectedReason, number>>>;
  /** Invalid events sent but not acknowledged: they may or may not become dead letters. */
  readonly unconfirmedInvalid: number;
  readonly pools: ReadonlyMap<string, Readonly<PoolExpectation>>;
}

export interface Ledger {
  sent(event: TrafficEvent, stream?: Stream): void;
  acked(event: TrafficEvent, stream?: Stream): void;
  failed(event: TrafficEvent, code: string, stream?: Stream): void;
  snapshot(): LedgerSnapshot;
}

/** One bit per origin, growing by doubling: 3 million wagers take 375 kB. */
class BitSet {
  private words = new Uint32Array(1024);

  /** Sets bit `i`; returns whether it was clear before. */
  add(i: number): boolean {
    const w = i >>> 5;
    if (w >= this.words.length) {
      let size = this.words.length * 2;
      while (size <= w) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.words);
      this.words = grown;
    }
    const mask = 1 << (i & 31);
    const before = this.words[w] ?? 0;
    if ((before & mask) !== 0) return false;
    this.words[w] = before | mask;
    return true;
  }
}

function bump<K extends string>(counts: Partial<Record<K, number>>, key: K, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export function createLedger(config: GameShares): Ledger {
  const games = new Map<string, GameConfig>(config.games.map((g) => [g.gameId, g]));
  const pools = new Map<string, PoolExpectation>();
  for (const game of config.games) {
    for (const pool of game.pools) {
      if (!pools.has(pool.poolId)) {
        pools.set(pool.poolId, {
          jackpotId: game.jackpotId,
          wagers: 0,
          wageredMinor: 0n,
          contributionMicro: 0n,
          reserveMicro: 0n,
        });
      }
    }
  }
  // Only a caller whose configuration disagrees with its traffic makes such wagers; each copy is
  // then a rejected message of its own.
  const misfit = (wager: WagerMessage): ExpectedReason | null => {
    const game = games.get(wager.gameId);
    if (game === undefined) return 'unknown_game';
    if (game.currency !== wager.currency) return 'currency_mismatch';
    return null;
  };
  const ackedOrigins: Record<Stream, BitSet> = { traffic: new BitSet(), probe: new BitSet() };

  let sent = 0;
  let distinctSent = 0;
  let duplicates = 0;
  let probes = 0;
  let acked = 0;
  let errors = 0;
  let distinct = 0;
  let invalidSent = 0;
  let invalidAcked = 0;
  const invalid: Partial<Record<InvalidReason, number>> = {};
  const deadLetters: Partial<Record<ExpectedReason, number>> = {};
  const errorsByCode: Record<string, number> = {};

  return {
    sent(event, stream = 'traffic') {
      sent++;
      if (event.kind === 'invalid') {
        invalidSent++;
        bump(invalid, event.reason);
        return;
      }
      if (stream === 'probe') probes++;
      const reason = misfit(event.wager);
      if (reason !== null) {
        invalidSent++;
        bump(invalid, reason);
        return;
      }
      if (event.duplicate) duplicates++;
      else distinctSent++;
    },

    acked(event, stream = 'traffic') {
      acked++;
      if (event.kind === 'invalid') {
        invalidAcked++;
        bump(deadLetters, event.reason);
        return;
      }
      const { wager } = event;
      const reason = misfit(wager);
      if (reason !== null) {
        invalidAcked++;
        bump(deadLetters, reason);
        return;
      }
      if (!ackedOrigins[stream].add(event.origin)) return;
      distinct++;
      const game = games.get(wager.gameId) as GameConfig;
      const amount = BigInt(wager.amountMinor);
      for (const share of game.pools) {
        const pool = pools.get(share.poolId);
        if (pool === undefined) continue;
        pool.wagers++;
        pool.wageredMinor += amount;
        pool.contributionMicro += amount * BigInt(share.contributionPpm);
        pool.reserveMicro += amount * BigInt(share.reservePpm);
      }
    },

    failed(_event, code) {
      errors++;
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    },

    snapshot() {
      return {
        sent,
        distinctSent,
        duplicates,
        invalid: { ...invalid },
        probes,
        acked,
        errors,
        errorsByCode: { ...errorsByCode },
        distinct,
        unconfirmed: distinctSent - distinct,
        deadLetters: { ...deadLetters },
        unconfirmedInvalid: invalidSent - invalidAcked,
        pools: new Map([...pools].map(([id, p]) => [id, { ...p }])),
      };
    },
  };
}

/** A pool's expectation in JSON-safe form: exact integers as decimal strings. */
export interface PoolExpectationJson {
  readonly jackpotId: string;
  readonly wagers: number;
  readonly wageredMinor: string;
  readonly contributionMicro: string;
  readonly reserveMicro: string;
}

export function poolsToJson(
  pools: ReadonlyMap<string, Readonly<PoolExpectation>>,
): Record<string, PoolExpectationJson> {
  const out: Record<string, PoolExpectationJson> = {};
  for (const [poolId, p] of [...pools].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out[poolId] = {
      jackpotId: p.jackpotId,
      wagers: p.wagers,
      wageredMinor: p.wageredMinor.toString(),
      contributionMicro: p.contributionMicro.toString(),
      reserveMicro: p.reserveMicro.toString(),
    };
  }
  return out;
}

/** Writes a record file: pretty JSON, so that a human can diff two runs. */
export async function writeRecord(path: string, record: unknown): Promise<void> {
  await writeFile(
    path,
    `${JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    'utf8',
  );
}
