/**
 * The checks after the stream stopped and the lag drained, each against what the suite itself
 * sent and configured (never against the aggregator's own arithmetic):
 * - every acknowledged wager is in jackpot.contributions exactly once for every pool of its
 *   jackpot, each row with the wager's game and amount and contribution = amount × ppm
 *   (contribution + overflow past a ceiling), reserve = amount × reserve ppm;
 * - each pool's lifetime meters in jackpot.pool_totals equal the sums over those wagers;
 * - bad events are dead letters with their reasons; claimed wins are booked as answered;
 * - `npm run reconcile` is clean (every cycle and pool adds up, wins and mystery hits included);
 * - the projector serves what pool_totals holds.
 */
import { spawn } from 'node:child_process';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { REPO_ROOT } from '../../infra/paths.js';
import type { ClaimRecord } from './claims.js';
import type { Journal } from './journal.js';
import type { StreamRecord } from './stream.js';

export interface PoolShare {
  readonly poolId: string;
  readonly contributionPpm: number;
  readonly reservePpm: number;
}

/** Per game, the pools its wagers contribute to: from the suite's own configuration. */
export type GamePools = ReadonlyMap<string, readonly PoolShare[]>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Messages on the wagers topic not yet behind the positions Postgres holds. */
export async function lag(
  pool: pg.Pool,
  admin: Admin,
  topic: string,
  groupId: string,
): Promise<{ lag: number; consumed: number; produced: number }> {
  const highs = await admin.fetchTopicOffsets(topic);
  const rows = await pool.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset::text FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
    [groupId, topic],
  );
  const at = new Map(rows.rows.map((r) => [r.partition, Number(r.next_offset)]));
  let behind = 0;
  let consumed = 0;
  let produced = 0;
  for (const h of highs) {
    const high = Number(h.offset);
    const pos = at.get(h.partition) ?? 0;
    produced += high;
    consumed += pos;
    behind += Math.max(0, high - pos);
  }
  return { lag: behind, consumed, produced };
}

export async function waitForDrain(
  pool: pg.Pool,
  admin: Admin,
  topic: string,
  groupId: string,
  timeoutMs: number,
  journal: Journal,
): Promise<{ drained: boolean; lag: number; seconds: number }> {
  const t0 = Date.now();
  let last = -1;
  let lastSaid = 0;
  for (;;) {
    try {
      const l = await lag(pool, admin, topic, groupId);
      last = l.lag;
      if (l.lag === 0) return { drained: true, lag: 0, seconds: (Date.now() - t0) / 1000 };
    } catch (e) {
      if (Date.now() - lastSaid > 5000)
        journal.say(`(lag unknown: ${e instanceof Error ? e.message : String(e)})`);
    }
    if (Date.now() - t0 > timeoutMs) return { drained: false, lag: last, seconds: (Date.now() - t0) / 1000 };
    if (Date.now() - lastSaid > 5000) {
      lastSaid = Date.now();
      journal.say(`draining: ${last < 0 ? '?' : last} messages behind`);
    }
    await sleep(500);
  }
}

/** The outboxes (dead letters, wins) published by the relays: rows still unmarked after `timeoutMs`. */
export async function waitForOutbox(
  pool: pg.Pool,
  timeoutMs: number,
): Promise<{ deadLetters: number; wins: number }> {
  const t0 = Date.now();
  for (;;) {
    const r = await pool.query<{ d: number; w: number }>(
      `SELECT (SELECT count(*) FROM jackpot.dead_letters WHERE published_at IS NULL)::int AS d,
              (SELECT count(*) FROM jackpot.wins WHERE published_at IS NULL)::int AS w`,
    );
    const row = r.rows[0] ?? { d: -1, w: -1 };
    if ((row.d === 0 && row.w === 0) || Date.now() - t0 > timeoutMs)
      return { deadLetters: row.d, wins: row.w };
    await sleep(500);
  }
}

export interface LedgerCheck {
  readonly acked: number;
  readonly unconfirmed: number;
  /** Acknowledged wagers with a pool of their jackpot missing from the ledger. */
  readonly lost: number;
  readonly lostPairs: number;
  /** Wagers with more than one row for a pool. */
  readonly doubled: number;
  readonly doubledPairs: number;
  /** Rows whose wager was never sent, or whose pool, game, amount or contribution is wrong, by problem. */
  readonly wrongRows: ReadonlyMap<string, number>;
  readonly examples: readonly string[];
  readonly rows: number;
  /** Distinct event ids in the ledger, and in jackpot.applied_events. */
  readonly ledgerEvents: number;
  readonly appliedEvents: number;
  /** applied_events ids that were never sent. */
  readonly phantomApplied: number;
}

export async function checkLedger(
  pool: pg.Pool,
  record: StreamRecord,
  gamePools: GamePools,
): Promise<LedgerCheck> {
  const client = await pool.connect();
  try {
    await client.query(
      'CREATE TEMP TABLE chaos_sent (event_id uuid PRIMARY KEY, game_id text NOT NULL, amount_minor bigint NOT NULL, acked bool NOT NULL)',
    );
    await client.query(
      'CREATE TEMP TABLE chaos_game_pools (game_id text, pool_id text, contribution_ppm bigint, reserve_ppm bigint, PRIMARY KEY (game_id, pool_id))',
    );
    const shares = [...gamePools].flatMap(([game, pools]) => pools.map((p) => [game, p] as const));
    await client.query(
      'INSERT INTO chaos_game_pools SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])',
      [
        shares.map(([g]) => g),
        shares.map(([, p]) => p.poolId),
        shares.map(([, p]) => p.contributionPpm),
        shares.map(([, p]) => p.reservePpm),
      ],
    );
    const entries = [...record.wagers.entries()];
    for (let i = 0; i < entries.length; i += 20_000) {
      const chunk = entries.slice(i, i + 20_000);
      await client.query(
        'INSERT INTO chaos_sent SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bool[])',
        [
          chunk.map(([id]) => id),
          chunk.map(([, w]) => w.wager.gameId),
          chunk.map(([, w]) => w.wager.amountMinor),
          chunk.map(([, w]) => w.acked),
        ],
      );
    }
    await client.query('ANALYZE chaos_sent');

    const lost = await client.query<{ pairs: number; events: number }>(
      `SELECT count(*)::int AS pairs, count(DISTINCT s.event_id)::int AS events
         FROM chaos_sent s JOIN chaos_game_pools g USING (game_id)
        WHERE s.acked AND NOT EXISTS (SELECT 1 FROM jackpot.contributions c WHERE c.event_id = s.event_id AND c.pool_id = g.pool_id)`,
    );
    const doubled = await client.query<{ pairs: number; events: number }>(
      `SELECT count(*)::int AS pairs, count(DISTINCT event_id)::int AS events
         FROM (SELECT event_id, pool_id FROM jackpot.contributions GROUP BY event_id, pool_id HAVING count(*) > 1) d`,
    );
    const wrong = await client.query<{ problem: string; n: number; example: string }>(
      `WITH checked AS (
         SELECT c.*, CASE
                  WHEN s.event_id IS NULL THEN 'row of a wager never sent'
                  WHEN g.pool_id IS NULL THEN 'row for a pool its game does not contribute to'
                  WHEN c.game_id <> s.game_id THEN 'row with another game'
                  WHEN c.wager_minor <> s.amount_minor THEN 'row with another amount'
                  WHEN c.contribution_micro + c.overflow_micro <> s.amount_minor * g.contribution_ppm THEN 'contribution + overflow <> amount x ppm'
                  WHEN c.reserve_micro <> s.amount_minor * g.reserve_ppm THEN 'reserve <> amount x reserve ppm'
                END AS problem
           FROM jackpot.contributions c
           LEFT JOIN chaos_sent s ON s.event_id = c.event_id
           LEFT JOIN chaos_game_pools g ON g.game_id = s.game_id AND g.pool_id = c.pool_id)
       SELECT problem, count(*)::int AS n,
              min(format('%s %s: game %s, wager %s, contribution %s, overflow %s, reserve %s', event_id, pool_id, game_id, wager_minor, contribution_micro, overflow_micro, reserve_micro)) AS example
         FROM checked WHERE problem IS NOT NULL GROUP BY problem ORDER BY problem`,
    );
    const counts = await client.query<{
      rows: number;
      ledger_events: number;
      applied: number;
      phantom: number;
    }>(
      `SELECT (SELECT count(*) FROM jackpot.contributions)::int AS rows,
              (SELECT count(DISTINCT event_id) FROM jackpot.contributions)::int AS ledger_events,
              (SELECT count(*) FROM jackpot.applied_events)::int AS applied,
              (SELECT count(*) FROM jackpot.applied_events a WHERE NOT EXISTS (SELECT 1 FROM chaos_sent s WHERE s.event_id = a.event_id))::int AS phantom`,
    );
    const c = counts.rows[0];
    const acked = entries.filter(([, w]) => w.acked).length;
    return {
      acked,
      unconfirmed: entries.length - acked,
      lost: lost.rows[0]?.events ?? -1,
      lostPairs: lost.rows[0]?.pairs ?? -1,
      doubled: doubled.rows[0]?.events ?? -1,
      doubledPairs: doubled.rows[0]?.pairs ?? -1,
      wrongRows: new Map(wrong.rows.map((r) => [r.problem, r.n])),
      examples: wrong.rows.map((r) => `${r.problem}: ${r.example}`),
      rows: c?.rows ?? -1,
      ledgerEvents: c?.ledger_events ?? -1,
      appliedEvents: c?.applied ?? -1,
      phantomApplied: c?.phantom ?? -1,
    };
  } finally {
    await client.query('DROP TABLE IF EXISTS chaos_sent, chaos_game_pools').catch(() => undefined);
    client.release();
  }
}

export interface TotalsMismatch {
  readonly poolId: string;
  readonly meter: string;
  readonly expected: bigint;
  readonly actual: bigint;
}

/**
 * Each pool's lifetime meters against sums computed here with BigInt over the acknowledged
 * wagers: wagers, amount wagered, contributions (to the amount plus overflow), reserve shares.
 * The current amount itself moves with wins and hidden mystery triggers; reconcile checks it.
 */
export async function checkTotals(
  pool: pg.Pool,
  record: StreamRecord,
  gamePools: GamePools,
): Promise<{ pools: number; mismatches: TotalsMismatch[] }> {
  const expected = new Map<
    string,
    { wagers: bigint; wagered: bigint; contribution: bigint; reserve: bigint }
  >();
  for (const pools of gamePools.values())
    for (const p of pools) expected.set(p.poolId, { wagers: 0n, wagered: 0n, contribution: 0n, reserve: 0n });
  for (const w of record.wagers.values()) {
    if (!w.acked) continue;
    const amount = BigInt(w.wager.amountMinor);
    for (const p of gamePools.get(w.wager.gameId) ?? []) {
      const e = expected.get(p.poolId);
      if (e === undefined) continue;
      e.wagers += 1n;
      e.wagered += amount;
      e.contribution += amount * BigInt(p.contributionPpm);
      e.reserve += amount * BigInt(p.reservePpm);
    }
  }
  const rows = await pool.query<{
    pool_id: string;
    wagers: string;
    wagered: string;
    contribution: string;
    reserve: string;
  }>(
    `SELECT pool_id, wagers_total::text AS wagers, wagered_minor_total::text AS wagered,
            (contribution_micro_total + overflow_micro_total)::text AS contribution, reserve_micro_total::text AS reserve
       FROM jackpot.pool_totals`,
  );
  const mismatches: TotalsMismatch[] = [];
  const seen = new Set<string>();
  for (const r of rows.rows) {
    seen.add(r.pool_id);
    const e = expected.get(r.pool_id);
    if (e === undefined) continue;
    for (const [meter, want, got] of [
      ['wagers', e.wagers, BigInt(r.wagers)],
      ['wagered', e.wagered, BigInt(r.wagered)],
      ['contribution', e.contribution, BigInt(r.contribution)],
      ['reserve', e.reserve, BigInt(r.reserve)],
    ] as const)
      if (want !== got) mismatches.push({ poolId: r.pool_id, meter, expected: want, actual: got });
  }
  for (const poolId of expected.keys())
    if (!seen.has(poolId)) mismatches.push({ poolId, meter: 'row', expected: 1n, actual: 0n });
  return { pools: expected.size, mismatches };
}

export interface DeadLetterCheck {
  /** By reason: what the suite sent (acknowledged..sent bounds the count) and what is there. */
  readonly reasons: readonly { reason: string; acked: number; sent: number; actual: number; ok: boolean }[];
  readonly total: number;
}

export async function checkDeadLetters(pool: pg.Pool, record: StreamRecord): Promise<DeadLetterCheck> {
  const r = await pool.query<{ reason: string; n: number }>(
    'SELECT reason, count(*)::int AS n FROM jackpot.dead_letters GROUP BY reason',
  );
  const actual = new Map(r.rows.map((row) => [row.reason, row.n]));
  const reasons = [...new Set([...record.bad.keys(), ...actual.keys()])].sort().map((reason) => {
    const t = record.bad.get(reason) ?? { sent: 0, acked: 0 };
    const n = actual.get(reason) ?? 0;
    // A bad event whose send failed may still have been written: between acked and sent.
    return { reason, acked: t.acked, sent: t.sent, actual: n, ok: n >= t.acked && n <= t.sent };
  });
  return { reasons, total: r.rows.reduce((s, row) => s + row.n, 0) };
}

export interface WinsCheck {
  readonly claims: number;
  readonly repeats: number;
  readonly mystery: number;
  readonly problems: readonly string[];
}

export async function checkWins(
  pool: pg.Pool,
  claims: readonly ClaimRecord[],
  record: StreamRecord,
  mysteryPools: readonly string[],
): Promise<WinsCheck> {
  const problems: string[] = [];
  const rows = await pool.query<{
    claim_id: string;
    win_id: string;
    cycle: number;
    amount_minor: string;
    pool_id: string;
  }>(
    "SELECT claim_id, win_id::text, cycle, amount_minor::text, pool_id FROM jackpot.wins WHERE kind = 'claim'",
  );
  const booked = new Map(rows.rows.map((r) => [r.claim_id, r]));
  for (const c of claims) {
    problems.push(...c.problems.map((p) => `claim ${c.claimId}: ${p}`));
    const row = booked.get(c.claimId);
    if (c.answer === null) continue;
    if (row === undefined)
      problems.push(`claim ${c.claimId} was answered ${JSON.stringify(c.answer)} but no win is booked`);
    else if (
      row.win_id !== c.answer.winId ||
      row.cycle !== c.answer.cycle ||
      Number(row.amount_minor) !== c.answer.amountMinor ||
      row.pool_id !== c.poolId
    )
      problems.push(
        `claim ${c.claimId}: booked ${JSON.stringify(row)}, answered ${JSON.stringify(c.answer)}`,
      );
  }
  const ours = new Set(claims.map((c) => c.claimId));
  for (const id of booked.keys()) if (!ours.has(id)) problems.push(`a claim win ${id} the suite never sent`);
  const mystery = await pool.query<{ pool_id: string; event_id: string | null }>(
    "SELECT pool_id, event_id::text FROM jackpot.wins WHERE kind = 'mystery'",
  );
  for (const m of mystery.rows) {
    if (!mysteryPools.includes(m.pool_id))
      problems.push(`a mystery win on ${m.pool_id}, which is no mystery pool`);
    if (m.event_id === null || !record.wagers.has(m.event_id))
      problems.push(`mystery win on ${m.pool_id} by wager ${String(m.event_id)}, never sent`);
  }
  return {
    claims: booked.size,
    repeats: claims.reduce((s, c) => s + c.repeats, 0),
    mystery: mystery.rowCount ?? 0,
    problems,
  };
}

/** GET /v1/pools against pool_totals (amount, cycle, version), until they agree or `timeoutMs` passes. */
export async function checkProjector(
  pool: pg.Pool,
  projectorUrl: string,
  timeoutMs: number,
): Promise<{ ok: boolean; pools: number; diff: string }> {
  const t0 = Date.now();
  let diff: string;
  for (;;) {
    const committed = await pool.query<{
      pool_id: string;
      amount_minor: string;
      cycle: number;
      version: string;
    }>('SELECT pool_id, amount_minor::text, cycle, version::text FROM jackpot.pool_totals ORDER BY pool_id');
    const want = committed.rows.map((r) => `${r.pool_id} ${r.amount_minor} c${r.cycle} v${r.version}`);
    try {
      const res = await fetch(`${projectorUrl}/v1/pools`, { signal: AbortSignal.timeout(5000) });
      const served = (
        (await res.json()) as { poolId: string; amountMinor: number; cycle: number; version: number }[]
      )
        .map((p) => `${p.poolId} ${p.amountMinor} c${p.cycle} v${p.version}`)
        .sort();
      const missing = want.filter((w) => !served.includes(w));
      const extra = served.filter((s) => !want.includes(s));
      if (missing.length === 0 && extra.length === 0) return { ok: true, pools: want.length, diff: '' };
      diff = `Postgres has ${missing.join('; ')}; the projector serves ${extra.join('; ')}`;
    } catch (e) {
      diff = `GET /v1/pools failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (Date.now() - t0 > timeoutMs) return { ok: false, pools: want.length, diff };
    await sleep(500);
  }
}

/** `npm run reconcile` as an operator runs it, against the run's database. */
export function runReconcileCommand(databaseUrl: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '-s', 'reconcile', '--', '--quiet'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (e) => resolve({ code: -1, output: e.message }));
    child.once('close', (code) => resolve({ code: code ?? -1, output: output.trim() }));
  });
}
