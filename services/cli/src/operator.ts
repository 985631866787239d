/**
 * Operator commands for configuration and meters, the command-line twin of the admin API: the
 * same validation, the same store, the same audit trail (actor `cli:<user>@<host>`).
 */
import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import type pg from 'pg';
import { commonConfig } from '../../../shared/src/config.js';
import { createPool, withClient } from '../../../shared/src/db.js';
import { microToString } from '../../../shared/src/domain/contribution.js';
import { validateJackpotConfig } from '../../../shared/src/domain/jackpot-config.js';
import { getJackpot, putJackpot } from '../../../shared/src/jackpot-store.js';
import { listFxRates, putFxRate, readMeters } from '../../../shared/src/meters.js';
import { parseFlags, UsageError } from './flags.js';

export const actor = (): string => `cli:${userInfo().username}@${hostname()}`;

export async function withDb<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = createPool(commonConfig(process.env).databaseUrl, { max: 1, applicationName: 'jackpot-cli' });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function required(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export async function jackpotsPut(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['id', 'file']);
  const id = required(flags, 'id');
  const file = required(flags, 'file');
  let body: unknown;
  try {
    body = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${file} as JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const checked = validateJackpotConfig(id, body);
  if (!checked.ok) {
    for (const d of checked.details) process.stderr.write(`invalid: ${d.path || '(body)'}: ${d.message}\n`);
    return 1;
  }
  return withDb(async (pool) => {
    const result = await withClient(pool, (client) => putJackpot(client, checked.config, { actor: actor() }));
    if (!result.ok) {
      process.stderr.write(`refused (${result.code}): ${result.message}\n`);
      return 1;
    }
    process.stderr.write(`${result.created ? 'created' : 'updated'} jackpot ${id}\n`);
    process.stdout.write(`${JSON.stringify(result.jackpot, null, 2)}\n`);
    return 0;
  });
}

interface JackpotListRow {
  jackpot_id: string;
  currency: string;
  games: string[];
  pools: {
    poolId: string;
    tier: string;
    cycle: number;
    seedMinor: string;
    contributionPpm: number;
    reservePpm: number;
    amountMicro: string;
    reserveMicro: string;
    wagers: string;
  }[];
}

/** Every jackpot, its games and pools with their current state, in one statement (one snapshot). */
const JACKPOTS_LIST_SQL = `
SELECT j.jackpot_id, j.currency,
       coalesce((SELECT array_agg(g.game_id ORDER BY g.game_id) FROM jackpot.games g WHERE g.jackpot_id = j.jackpot_id), '{}') AS games,
       coalesce((SELECT json_agg(json_build_object(
                   'poolId', p.pool_id, 'tier', p.tier, 'cycle', t.cycle, 'seedMinor', p.seed_minor::text,
                   'contributionPpm', p.contribution_ppm, 'reservePpm', p.reserve_ppm,
                   'amountMicro', t.amount_micro::text, 'reserveMicro', t.reserve_micro::text,
                   'wagers', t.wagers_total::text) ORDER BY p.tier)
                 FROM jackpot.pools p JOIN jackpot.pool_totals t USING (pool_id)
                 WHERE p.jackpot_id = j.jackpot_id), '[]') AS pools
FROM jackpot.jackpots j ORDER BY j.jackpot_id`;

/** `jackpots list [--json]`: the jackpots with their pools, tiers, currency and current amounts. */
export async function jackpotsList(args: readonly string[]): Promise<number> {
  const json = parseFlags(args, [], ['json']).has('json');
  return withDb(async (pool) => {
    const rows = (await pool.query<JackpotListRow>(JACKPOTS_LIST_SQL)).rows;
    // Amounts in minor units of the jackpot's currency, exact: micro-units / 1e6 as decimal text.
    const m = (s: string) => microToString(BigInt(s));
    if (json) {
      const out = rows.map((j) => ({
        jackpotId: j.jackpot_id,
        currency: j.currency,
        games: j.games,
        pools: j.pools.map((p) => ({
          poolId: p.poolId,
          tier: p.tier,
          cycle: p.cycle,
          seedMinor: Number(p.seedMinor),
          contributionPpm: p.contributionPpm,
          reservePpm: p.reservePpm,
          amountMinor: m(p.amountMicro),
          reserveMinor: m(p.reserveMicro),
          wagers: Number(p.wagers),
        })),
      }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      process.stderr.write('no jackpots configured\n');
      return 0;
    }
    const table = [
      ['jackpot', 'currency', 'tier', 'cycle', 'amount', 'reserve', 'seed', 'contribution', 'wagers'],
    ];
    for (const j of rows)
      for (const p of j.pools)
        table.push([
          j.jackpot_id,
          j.currency,
          p.tier,
          String(p.cycle),
          m(p.amountMicro),
          m(p.reserveMicro),
          p.seedMinor,
          `${(p.contributionPpm / 1e4).toFixed(4)} %`,
          p.wagers,
        ]);
    const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
    process.stdout.write('amounts in minor units of the currency\n');
    for (const r of table)
      process.stdout.write(
        `${r.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}\n`,
      );
    for (const j of rows)
      process.stdout.write(`games of ${j.jackpot_id}: ${j.games.join(', ') || '(none)'}\n`);
    return 0;
  });
}

export async function jackpotsGet(args: readonly string[]): Promise<number> {
  const id = required(parseFlags(args, ['id']), 'id');
  return withDb(async (pool) => {
    const jackpot = await withClient(pool, (client) => getJackpot(client, id));
    if (jackpot === null) {
      process.stderr.write(`no jackpot ${JSON.stringify(id)}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(jackpot, null, 2)}\n`);
    return 0;
  });
}

export async function meters(args: readonly string[]): Promise<number> {
  const poolId = parseFlags(args, ['pool']).get('pool') ?? null;
  return withDb(async (pool) => {
    const all = await readMeters(pool, poolId, 3);
    if (all.length === 0) {
      process.stderr.write(poolId === null ? 'no pools configured\n' : `no pool ${JSON.stringify(poolId)}\n`);
      return poolId === null ? 0 : 1;
    }
    const m = (s: string) => microToString(BigInt(s));
    const rows = [
      [
        'pool',
        'cycle',
        'amount',
        'reserve',
        'next-cycle',
        'wagers',
        'contributed',
        'reserve in',
        'overflow',
        'top-ups',
        'hits',
        'won',
      ],
      ...all.map((p) => [
        p.poolId,
        String(p.cycle),
        m(p.amountMicro),
        m(p.reserveMicro),
        m(p.nextCycleCarryMicro),
        String(p.wagers),
        m(p.contributionMicro),
        m(p.reserveSharesMicro),
        m(p.overflowMicro),
        m(p.topUpMicro),
        String(p.hits),
        m(p.wonMicro),
      ]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    process.stdout.write('amounts in minor units\n');
    for (const r of rows)
      process.stdout.write(
        `${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}\n`,
      );
    for (const p of all) {
      for (const w of p.lastWins)
        process.stdout.write(
          `last win ${p.poolId}: cycle ${w.cycle} ${w.kind} ${w.amountMinor} to ${w.playerId} at ${w.wonAt}\n`,
        );
    }
    return 0;
  });
}

export async function fxSet(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['from', 'to', 'rate-micro']);
  const from = required(flags, 'from');
  const to = required(flags, 'to');
  const rateText = required(flags, 'rate-micro');
  if (!/^[A-Z]{3}$/.test(from) || !/^[A-Z]{3}$/.test(to) || from === to)
    throw new UsageError('--from and --to must be two different ISO 4217 codes');
  const rate = Number(rateText);
  if (!/^\d+$/.test(rateText) || !Number.isSafeInteger(rate) || rate < 1 || rate > 1e12)
    throw new UsageError('--rate-micro must be an integer from 1 to 1e12');
  return withDb(async (pool) => {
    const stored = await putFxRate(pool, from, to, rate, actor());
    process.stdout.write(
      `${stored.from}>${stored.to} = ${stored.rateMicro} micro (1 ${from} minor = ${stored.rateMicro / 1e6} ${to} minor)\n`,
    );
    return 0;
  });
}

export async function fxList(args: readonly string[]): Promise<number> {
  parseFlags(args, []);
  return withDb(async (pool) => {
    for (const r of await listFxRates(pool))
      process.stdout.write(`${r.from}>${r.to}  ${r.rateMicro}  (set ${r.updatedAt})\n`);
    return 0;
  });
}
