/**
 * A window's part of `jackpot.pool_hourly_rollups` (migration 0010): its ledger shares summed per
 * UTC hour of `occurred_at`, pool and game, written with one upsert for the window
 * (`sql.upsertHourlyRollups`). Pure: fed the same shares as the ledger's COPY, so the rollups add
 * up to the ledger by construction.
 *
 * The hour is cut from `occurred_at` as Postgres stores it, to the microsecond (`timestampMicros`):
 * a wager at 09:59:59.9999996 is stored at 10:00:00 and counted in the 10:00 hour.
 */
import type { LedgerRowSink, Wager } from '../../../shared/src/domain/index.js';
import { timestampMicros } from './ledger-copy.js';

const HOUR_MICROS = 3_600_000_000n;
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
  wagered: bigint;
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

export function createHourlyRollup(): HourlyRollup {
  const groups = new Map<string, Group>();
  let lastWager: Wager | undefined;
  let lastText = '';
  let hour = '';
  let prefix = '';
  return {
    row: (wager, _fx, poolId, _cycle, contributionMicro, overflowMicro, reserveMicro) => {
      if (wager !== lastWager) {
        if (wager.occurredAt !== lastText) {
          const micros = timestampMicros(wager.occurredAt);
          const floor = micros - (((micros % HOUR_MICROS) + HOUR_MICROS) % HOUR_MICROS);
          hour = new Date(Number(floor / 1000n) + PG_EPOCH_MS).toISOString();
          lastText = wager.occurredAt;
        }
        prefix = `${hour}\n${wager.gameId}\n`;
        lastWager = wager;
      }
      const key = prefix + poolId;
      let g = groups.get(key);
      if (g === undefined) {
        g = {
          hour,
          poolId,
          gameId: wager.gameId,
          wagers: 0,
          wagered: 0n,
          contribution: 0n,
          overflow: 0n,
          reserve: 0n,
        };
        groups.set(key, g);
      }
      g.wagers++;
      g.wagered += BigInt(wager.amountMinor);
      g.contribution += contributionMicro;
      g.overflow += overflowMicro;
      g.reserve += reserveMicro;
    },
    rows: () => {
      const sorted = [...groups.values()].sort((a, b) =>
        a.hour !== b.hour
          ? a.hour < b.hour
            ? -1
            : 1
          : a.poolId !== b.poolId
            ? a.poolId < b.poolId
              ? -1
              : 1
            : a.gameId < b.gameId
              ? -1
              : a.gameId > b.gameId
                ? 1
                : 0,
      );
      return {
        hours: sorted.map((g) => g.hour),
        poolIds: sorted.map((g) => g.poolId),
        gameIds: sorted.map((g) => g.gameId),
        wagers: sorted.map((g) => g.wagers),
        wageredMinor: sorted.map((g) => g.wagered.toString()),
        contributionMicro: sorted.map((g) => g.contribution.toString()),
        overflowMicro: sorted.map((g) => g.overflow.toString()),
        reserveMicro: sorted.map((g) => g.reserve.toString()),
      };
    },
  };
}
