/**
 * Realistic wager traffic, pure and seeded: the same options and the same sequence of `nowMs`
 * values give the same events, byte for byte.
 *
 * - Games and players are Zipf-popular (s ≈ 1.1): a few hit games and a long tail, a few heavy
 *   players and many occasional ones. Player popularity is also Kafka key skew, so partitions see
 *   uneven load the way production does.
 * - Bets are log-normal in minor units (median 100, σ 1.5: p99 ≈ 3,300, the occasional high
 *   roller in the millions), clipped to the contract's 1..1,000,000,000.
 * - A share of events are duplicates: an earlier valid wager sent again with the same eventId (a
 *   game server's retry), sometimes with a different occurredAt. The pipeline must count each once.
 * - A share of events, for the Kafka path, are invalid, each tagged with the dead-letter reason the
 *   pipeline must give it.
 */
import type { ReasonCode } from '../../shared/src/domain/wager.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import { createRng, createZipf, shuffled, uuidV4, uuidV7, type Rng } from './random.js';

/** The kinds of bad input the generator makes, each with the reason code the pipeline must give. */
export const INVALID_REASONS = [
  'malformed_json',
  'amount_out_of_range',
  'unknown_game',
  'currency_mismatch',
] as const satisfies readonly ReasonCode[];
export type InvalidReason = (typeof INVALID_REASONS)[number];

export type TrafficEvent =
  | {
      readonly kind: 'wager';
      /**
       * 0, 1, 2, … for each distinct wager; a duplicate carries its original's number. The ledger
       * uses it to count a wager once however many of its copies are acknowledged.
       */
      readonly origin: number;
      readonly duplicate: boolean;
      readonly wager: WagerMessage;
    }
  | {
      readonly kind: 'invalid';
      readonly reason: InvalidReason;
      /** The Kafka key (a playerId, as for a valid wager). */
      readonly key: string;
      /** The exact bytes to send, as text (ASCII only). */
      readonly value: string;
    };

export interface GameSpec {
  readonly gameId: string;
  /** The currency of the game's jackpot: valid wagers use it, `currency_mismatch` ones another. */
  readonly currency: string;
}

export interface TrafficOptions {
  readonly seed: number | string;
  /** The configured games to wager on; popularity follows their order after a seeded shuffle. */
  readonly games: readonly GameSpec[];
  /** Distinct players, ids `p-1` … `p-N`. Default 100,000. */
  readonly players?: number;
  /** Zipf exponent of game popularity. Default 1.1: the top game of 50 takes ~22 % of wagers. */
  readonly gameSkew?: number;
  /** Zipf exponent of player activity. Default 1.1. */
  readonly playerSkew?: number;
  /** Median bet in minor units. Default 100. */
  readonly amountMedianMinor?: number;
  /** σ of ln(bet). Default 1.5: heavy-tailed, mean ≈ 3 × median. */
  readonly amountSigma?: number;
  /** Share of events that re-send an earlier valid wager. Default 0. */
  readonly dupRate?: number;
  /** Share of duplicates whose occurredAt differs from the original's (by 1 ms to 5 s). Default 0.3. */
  readonly dupNewTimeShare?: number;
  /**
   * How many recent wagers a duplicate is drawn from. Default 10,000: retries happen soon after
   * the original, and a bounded window keeps memory flat over long runs.
   */
  readonly dupWindow?: number;
  /** Share of events that are invalid. Default 0. */
  readonly invalidRate?: number;
  /** The kinds of invalid event to make, equally likely. Default all of `INVALID_REASONS`. */
  readonly invalidReasons?: readonly InvalidReason[];
  /**
   * `v7`: time-ordered event ids for the wager's time, as game servers are told to make them;
   * `v4`: random ones (any UUID is accepted). Default `v4`.
   */
  readonly eventIds?: 'v4' | 'v7';
}

export interface Traffic {
  /** The next event, stamped with `nowMs` (epoch milliseconds). */
  next(nowMs: number): TrafficEvent;
  /** Distinct wagers made so far (the next wager's `origin`). */
  readonly distinct: number;
}

const MIN_AMOUNT_MINOR = 1;
const MAX_AMOUNT_MINOR = 1_000_000_000;

/** Currencies for `currency_mismatch`: valid ISO 4217 codes, so only the mismatch is wrong. */
const OTHER_CURRENCIES = ['EUR', 'USD', 'GBP', 'SEK', 'NOK', 'CHF', 'JPY', 'CAD'] as const;

function rate(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${v}`);
  return v;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** A game id that is none of the configured ones, so the pipeline must answer `unknown_game`. */
function unknownGameId(known: ReadonlySet<string>, n: number): string {
  let id = `loadgen-unknown-${n}`;
  while (known.has(id)) id += 'x';
  return id;
}

export function createTraffic(opts: TrafficOptions): Traffic {
  if (opts.games.length === 0) throw new RangeError('traffic needs at least one game');
  const dupRate = rate('dupRate', opts.dupRate, 0);
  const invalidRate = rate('invalidRate', opts.invalidRate, 0);
  if (dupRate + invalidRate > 1)
    throw new RangeError(`dupRate + invalidRate must be at most 1, got ${dupRate + invalidRate}`);
  const dupNewTimeShare = rate('dupNewTimeShare', opts.dupNewTimeShare, 0.3);
  const v7 = opts.eventIds === 'v7';
  const dupWindow = positiveInt('dupWindow', opts.dupWindow, 10_000);
  const players = positiveInt('players', opts.players, 100_000);
  const median = opts.amountMedianMinor ?? 100;
  if (!(median >= MIN_AMOUNT_MINOR && median <= MAX_AMOUNT_MINOR))
    throw new RangeError(`amountMedianMinor out of range: ${median}`);
  const sigma = opts.amountSigma ?? 1.5;
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new RangeError(`amountSigma must be ≥ 0, got ${sigma}`);
  const invalidReasons = opts.invalidReasons ?? INVALID_REASONS;
  if (invalidRate > 0 && invalidReasons.length === 0)
    throw new RangeError('invalidRate > 0 needs at least one invalid reason');

  const rng: Rng = createRng(opts.seed, 'traffic');
  // Popularity must not follow the configuration's order (often alphabetical), so shuffle first.
  const games = shuffled(opts.games, rng);
  const gameZipf = createZipf(games.length, opts.gameSkew ?? 1.1);
  const playerZipf = createZipf(players, opts.playerSkew ?? 1.1);
  const knownGames = new Set(opts.games.map((g) => g.gameId));
  const mu = Math.log(median);

  // The last `dupWindow` valid wagers, a ring; `origins[i]` is the origin of `recent[i]`.
  const recent: WagerMessage[] = [];
  const origins: number[] = [];
  let ringNext = 0;
  let distinct = 0;
  let unknownCount = 0;

  const amount = (): number => {
    const x = Math.round(Math.exp(mu + sigma * rng.normal()));
    return Math.min(MAX_AMOUNT_MINOR, Math.max(MIN_AMOUNT_MINOR, x));
  };

  // The run loop stamps a whole 10 ms tick of events with one clock reading: format it once.
  let isoMs = Number.NaN;
  let iso = '';
  const isoAt = (ms: number): string => {
    if (ms !== isoMs) {
      isoMs = ms;
      iso = new Date(ms).toISOString();
    }
    return iso;
  };

  const freshWager = (nowMs: number): WagerMessage => {
    const game = games[gameZipf.sample(rng)] as GameSpec;
    return {
      eventId: v7 ? uuidV7(rng, nowMs) : uuidV4(rng),
      occurredAt: isoAt(nowMs),
      gameId: game.gameId,
      playerId: `p-${playerZipf.sample(rng) + 1}`,
      currency: game.currency,
      amountMinor: amount(),
    };
  };

  const remember = (wager: WagerMessage, origin: number): void => {
    if (recent.length < dupWindow) {
      recent.push(wager);
      origins.push(origin);
    } else {
      recent[ringNext] = wager;
      origins[ringNext] = origin;
      ringNext = (ringNext + 1) % dupWindow;
    }
  };

  const invalid = (nowMs: number): TrafficEvent => {
    const reason = invalidReasons[rng.below(invalidReasons.length)] as InvalidReason;
    const base = freshWager(nowMs);
    let wager: WagerMessage;
    switch (reason) {
      case 'malformed_json': {
        // Any proper, non-empty prefix of a JSON object's text is not JSON (the closing brace is
        // missing), and non-empty keeps it from being `empty_payload`.
        const text = JSON.stringify(base);
        return {
          kind: 'invalid',
          reason,
          key: base.playerId,
          value: text.slice(0, 1 + rng.below(text.length - 1)),
        };
      }
      case 'amount_out_of_range':
        wager = { ...base, amountMinor: 0 };
        break;
      case 'unknown_game':
        wager = { ...base, gameId: unknownGameId(knownGames, unknownCount++) };
        break;
      case 'currency_mismatch': {
        const others = OTHER_CURRENCIES.filter((c) => c !== base.currency);
        wager = { ...base, currency: others[rng.below(others.length)] as string };
        break;
      }
    }
    return { kind: 'invalid', reason, key: wager.playerId, value: JSON.stringify(wager) };
  };

  return {
    get distinct() {
      return distinct;
    },
    next(nowMs) {
      const u = rng.float();
      if (u < invalidRate) return invalid(nowMs);
      if (u < invalidRate + dupRate && recent.length > 0) {
        const i = rng.below(recent.length);
        const original = recent[i] as WagerMessage;
        const origin = origins[i] as number;
        const wager =
          rng.float() < dupNewTimeShare
            ? {
                ...original,
                occurredAt: new Date(Date.parse(original.occurredAt) + 1 + rng.below(5000)).toISOString(),
              }
            : original;
        return { kind: 'wager', origin, duplicate: true, wager };
      }
      const wager = freshWager(nowMs);
      const origin = distinct++;
      remember(wager, origin);
      return { kind: 'wager', origin, duplicate: false, wager };
    },
  };
}

/**
 * Latency probe wagers: one game, amount fixed so that each probe raises the probe pool by a known
 * number of minor units, ids from a stream of their own.
 */
export interface ProbeTraffic {
  next(nowMs: number): TrafficEvent & { kind: 'wager' };
}

export function createProbeTraffic(opts: {
  seed: number | string;
  gameId: string;
  currency: string;
  amountMinor: number;
  eventIds?: 'v4' | 'v7';
}): ProbeTraffic {
  const rng = createRng(opts.seed, 'probe');
  const v7 = opts.eventIds === 'v7';
  let origin = 0;
  return {
    next(nowMs) {
      return {
        kind: 'wager',
        origin: origin++,
        duplicate: false,
        wager: {
          eventId: v7 ? uuidV7(rng, nowMs) : uuidV4(rng),
          occurredAt: new Date(nowMs).toISOString(),
          gameId: opts.gameId,
          playerId: 'loadgen-probe',
          currency: opts.currency,
          amountMinor: opts.amountMinor,
        },
      };
    },
  };
}
