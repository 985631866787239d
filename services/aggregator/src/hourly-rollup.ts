/**
 * A window's part of `jackpot.pool_hourly_rollups` (migration 0010): its ledger shares summed per
 * UTC hour of `occurred_at`, pool and game, written with one upsert for the window
 * (`sql.upsertHourlyRollups`). Pure: fed the same shares as the ledger's COPY, so the rollups add
 * up to the ledger by construction.
 *
 * The hour is cut from `occurred_at` as Postgres stores it, to the microsecond (`timestampMicros`):
 * a wager at 09:59:59.9999996 is stored at 10:00:00 and counted in the 10:00 hour.
 */
import {
  compareStrings,
  parseTimestampMs,
  type LedgerRowSink,
  type Wager,
} from '../../../shared/src/domain/index.js';
import { timestampMicros } from './ledger-copy.js';

const HOUR_MICROS = 3_600_000_000n;
const HOUR_MS = 3_600_000;
/** 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

/** One (hour, pool, game) group, in the columns of the upsert. */
export interface HourlyRollupRows {
  readonly hours: string[];
  readonly poolIds: string[];
  readonly gameIds: string[];
  readonly wagers: number[];
  readonly wageredMinor: string[];
  readonly contributionMicro: string[];
  readonly overflowMicro: string[];
  readonly reserveMicro: string[];
}

interface Group {
  readonly hour: string;
  readonly poolId: string;
  readonly gameId: string;
  wagers: number;
  /** A Number: at most 1,000,000 wagers a window of at most 1e9 minor each, under 2^53. */
  wagered: number;
  contribution: bigint;
  overflow: bigint;
  reserve: bigint;
}

export interface HourlyRollup {
  /** Takes one wager's share of one pool, as the ledger encoder does. */
  readonly row: LedgerRowSink;
  /** The groups, sorted by hour, pool and game (the order their rows are locked in). */
  readonly rows: () => HourlyRollupRows;
}

/**
 * The start of the UTC hour of `occurred_at` as Postgres stores it (`timestampMicros`), as ISO
 * text. From the timestamp's milliseconds (a Number, exact: at most ~2.5e14) rather than its
 * microseconds (a BigInt): Postgres rounds the fraction to whole microseconds, which moves the
 * instant by less than one millisecond, so it can reach the next hour only from the hour's last
 * millisecond, which takes the exact road. `last` holds the previous answer: consecutive wagers
 * share their hour, and building the ISO text was the largest part of a rollup's time.
 */
function hourOf(text: string, last: { ms: number; text: string }): string {
  const ms = parseTimestampMs(text);
  let start: number;
  const into = ms === null ? -1 : ((ms % HOUR_MS) + HOUR_MS) % HOUR_MS;
  if (ms !== null && into !== HOUR_MS - 1) {
    start = ms - into;
  } else {
    // timestampMicros throws the RangeError for text that is no timestamp.
    const micros = timestampMicros(text);
    start = Number((micros - (((micros % HOUR_MICROS) + HOUR_MICROS) % HOUR_MICROS)) / 1000n) + PG_EPOCH_MS;
  }
  if (start !== last.ms) {
    last.ms = start;
    last.text = new Date(start).toISOString();
  }
  return last.text;
}

export function createHourlyRollup(): HourlyRollup {
  /** By hour, then game, then pool id: no key built for a wager. */
  const byHour = new Map<string, Map<string, Map<string, Group>>>();
  const all: Group[] = [];
  const lastHour = { ms: Number.NaN, text: '' };
  let lastWager: Wager | undefined;
  let lastText = '';
  let hour = '';
  let games = new Map<string, Map<string, Group>>();
  let pools = new Map<string, Group>();
  return {
    row: (wager, _fx, poolId, _cycle, contributionMicro, overflowMicro, reserveMicro) => {
      if (wager !== lastWager) {
        if (wager.occurredAt !== lastText) {
          const h = hourOf(wager.occurredAt, lastHour);
          if (h !== hour) {
            hour = h;
            let found = byHour.get(h);
            if (found === undefined) {
              found = new Map();
              byHour.set(h, found);
            }
            games = found;
          }
          lastText = wager.occurredAt;
        }
        let found = games.get(wager.gameId);
        if (found === undefined) {
          found = new Map();
          games.set(wager.gameId, found);
        }
        pools = found;
        lastWager = wager;
      }
      let g = pools.get(poolId);
      if (g === undefined) {
        g = {
          hour,
          poolId,
          gameId: wager.gameId,
          wagers: 0,
          wagered: 0,
          contribution: 0n,
          overflow: 0n,
          reserve: 0n,
        };
        pools.set(poolId, g);
        all.push(g);
      }
      g.wagers++;
      g.wagered += wager.amountMinor;
      g.contribution += contributionMicro;
      if (overflowMicro !== 0n) g.overflow += overflowMicro;
      if (reserveMicro !== 0n) g.reserve += reserveMicro;
    },
    rows: () => {
      const sorted = all.sort(
        (a, b) =>
          compareStrings(a.hour, b.hour) ||
          compareStrings(a.poolId, b.poolId) ||
          compareStrings(a.gameId, b.gameId),
      );
      return {
        hours: sorted.map((g) => g.hour),
        poolIds: sorted.map((g) => g.poolId),
        gameIds: sorted.map((g) => g.gameId),
        wagers: sorted.map((g) => g.wagers),
        wageredMinor: sorted.map((g) => String(g.wagered)),
        contributionMicro: sorted.map((g) => g.contribution.toString()),
        overflowMicro: sorted.map((g) => g.overflow.toString()),
        reserveMicro: sorted.map((g) => g.reserve.toString()),
      };
    },
  };
}
