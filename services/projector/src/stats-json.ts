/**
 * The JSON of the history and statistics answers. Pure. Written by hand, like pool-json.ts: sums
 * arrive from Postgres as text (numeric, beyond 2^53 for micro-units) and go out as exact JSON
 * numbers.
 */
import type { PoolHistoryRow } from './sql/select-pool-history.js';
import type { ActivitySums, GameStatsRow, JackpotStatsRow } from './sql/select-activity-stats.js';

/** An integer as Postgres wrote it, checked, so that nothing but a JSON number goes out. */
export function exactNumber(text: string): string {
  if (!/^-?\d{1,40}$/.test(text)) throw new RangeError(`not an integer: ${JSON.stringify(text)}`);
  return text;
}

const str = (s: string): string => JSON.stringify(s);
const iso = (ms: number): string => str(new Date(ms).toISOString());

function sums(r: ActivitySums): string {
  return (
    `"wagers":${exactNumber(r.wagers)},"wageredMinor":${exactNumber(r.wagered_minor)},` +
    `"contributionMicro":${exactNumber(r.contribution_micro)},"wins":${exactNumber(r.wins)},"wonMinor":${exactNumber(r.won_minor)}`
  );
}

export function poolHistoryJson(
  pool: { readonly poolId: string; readonly jackpotId: string; readonly currency: string },
  range: { readonly fromMs: number; readonly toMs: number },
  rows: readonly PoolHistoryRow[],
): string {
  const hours = rows.map(
    (r) =>
      `{"hour":${str(r.hour)},"wagers":${exactNumber(r.wagers)},` +
      `"wageredMinor":${r.wagered_minor === null ? 'null' : exactNumber(r.wagered_minor)},` +
      `"contributionMicro":${exactNumber(r.contribution_micro)},"wins":${exactNumber(r.wins)},` +
      `"wonMinor":${exactNumber(r.won_minor)},"archived":${r.archived}}`,
  );
  return (
    `{"poolId":${str(pool.poolId)},"jackpotId":${str(pool.jackpotId)},"currency":${str(pool.currency)},` +
    `"from":${iso(range.fromMs)},"to":${iso(range.toMs)},"hours":[${hours.join(',')}]}`
  );
}

export function jackpotStatsJson(
  range: { readonly fromMs: number; readonly toMs: number },
  rows: readonly JackpotStatsRow[],
): string {
  const items = rows.map(
    (r) => `{"jackpotId":${str(r.jackpot_id)},"currency":${str(r.currency)},"pools":${r.pools},${sums(r)}}`,
  );
  return `{"from":${iso(range.fromMs)},"to":${iso(range.toMs)},"jackpots":[${items.join(',')}]}`;
}

export function gameStatsJson(
  range: { readonly fromMs: number; readonly toMs: number },
  rows: readonly GameStatsRow[],
): string {
  const items = rows.map(
    (r) =>
      `{"gameId":${str(r.game_id)},"jackpotId":${str(r.jackpot_id)},"currency":${str(r.currency)},${sums(r)}}`,
  );
  return `{"from":${iso(range.fromMs)},"to":${iso(range.toMs)},"games":[${items.join(',')}]}`;
}
