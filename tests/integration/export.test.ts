/**
 * `npm run jackpot -- export` as an analyst runs it: a child process against a fresh database
 * whose ledger rows the test writes itself, including values (quotes, backslashes, commas, a
 * newline) that real ids never hold, to prove neither format mangles them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const db = await createTestDatabase();
const TIMEOUT = 60_000;

/** A session zone far from UTC: the bounds and occurred_at must not depend on it. */
const jackpot = (args: readonly string[]): Promise<CliRun> =>
  runCli(args, { DATABASE_URL: db.url, PGTZ: 'Pacific/Chatham' });

interface Row {
  event_id: string;
  pool_id: string;
  cycle: number;
  wager_minor: number;
  contribution_micro: number;
  occurred_at: string;
  game_id: string;
  player_id: string;
  wager_currency: string | null;
  fx_rate_micro: number | null;
  overflow_micro: number;
  reserve_micro: number;
}

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T01:00:00Z';
const odd = 'pl"a\\b,c\nd\'e';

function row(n: number, occurredAt: string, extra: Partial<Row> = {}): Row {
  return {
    event_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    pool_id: 'eu-main:grand',
    cycle: 3,
    wager_minor: 250 * n,
    contribution_micro: 999_999_999_999_999 - n,
    occurred_at: occurredAt,
    game_id: 'slot.fruit-1',
    player_id: `p${n}`,
    wager_currency: null,
    fx_rate_micro: null,
    overflow_micro: 0,
    reserve_micro: 7 * n,
    ...extra,
  };
}

const before = row(1, '2025-12-31T23:59:59.999999Z');
const atFrom = row(2, '2026-01-01T00:00:00.000000Z', { player_id: odd });
const middle = row(3, '2026-01-01T00:30:00.123456Z', {
  wager_currency: 'USD',
  fx_rate_micro: 920_000,
  overflow_micro: 42,
});
const otherPool = row(4, '2026-01-01T00:30:00.123456Z', { pool_id: 'eu-main:mini', game_id: 'g"1\\' });
const lastIn = row(5, '2026-01-01T00:59:59.999999Z');
const atTo = row(6, '2026-01-01T01:00:00.000000Z');
const inRange = [atFrom, middle, otherPool, lastIn];

await db.pool.query(
  `INSERT INTO jackpot.contributions (event_id, pool_id, cycle, wager_minor, contribution_micro, occurred_at, game_id, player_id,
                                      wager_currency, fx_rate_micro, overflow_micro, reserve_micro)
   SELECT event_id, pool_id, cycle, wager_minor, contribution_micro, occurred_at, game_id, player_id,
          wager_currency, fx_rate_micro, overflow_micro, reserve_micro
   FROM json_populate_recordset(NULL::jackpot.contributions, $1::json)`,
  [JSON.stringify([atTo, lastIn, otherPool, middle, atFrom, before])],
);

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) || s === '' ? `"${s.replaceAll('"', '""')}"` : s;
}

const COLUMNS = Object.keys(before) as (keyof Row)[];

void test(
  'csv: a header line, then exactly the rows in [T1, T2) in order, every value as stored',
  { timeout: TIMEOUT },
  async () => {
    const r = await jackpot(['export', '--from', T1, '--to', T2, '--format', 'csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress when stderr is not a terminal');
    const expected =
      [COLUMNS.join(','), ...inRange.map((x) => COLUMNS.map((c) => csvField(x[c])).join(','))].join('\n') +
      '\n';
    assert.equal(r.stdout, expected);
  },
);

void test(
  'ndjson: one JSON object a line, parsing to exactly the stored values (quotes and backslashes intact)',
  { timeout: TIMEOUT },
  async () => {
    const r = await jackpot(['export', '--from', T1, '--to', T2, '--format', 'ndjson']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.endsWith('}\n'));
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      inRange,
    );
    assert.deepEqual(
      Object.keys(JSON.parse(lines[0] ?? '{}') as object),
      COLUMNS,
      'columns in the documented order',
    );
  },
);

void test(
  'bounds: T1 inclusive, T2 exclusive, read with their offsets; --pool keeps one pool',
  { timeout: TIMEOUT },
  async () => {
    const ids = (out: string): string[] =>
      out
        .trimEnd()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Row).event_id);
    const shifted = await jackpot([
      'export',
      '--from',
      '2026-01-01T13:45:00+13:45',
      '--to',
      '2026-01-01T00:59:59.999999Z',
      '--format',
      'ndjson',
    ]);
    assert.equal(shifted.code, 0, shifted.stderr);
    assert.deepEqual(
      ids(shifted.stdout),
      [atFrom, middle, otherPool].map((x) => x.event_id),
      'the same instant in another offset',
    );
    const pool = await jackpot([
      'export',
      '--from',
      T1,
      '--to',
      T2,
      '--format',
      'ndjson',
      '--pool',
      'eu-main:mini',
    ]);
    assert.equal(pool.code, 0, pool.stderr);
    assert.deepEqual(ids(pool.stdout), [otherPool.event_id]);
    const empty = await jackpot([
      'export',
      '--from',
      '2030-01-01T00:00:00Z',
      '--to',
      '2030-01-02T00:00:00Z',
      '--format',
      'csv',
    ]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, `${COLUMNS.join(',')}\n`, 'an empty range is the header alone');
  },
);

void test(
  'bad arguments exit 2 with the usage line and write nothing to stdout',
  { timeout: TIMEOUT },
  async () => {
    const cases: [string[], RegExp][] = [
      [['--to', T2, '--format', 'csv'], /--from is required/],
      [['--from', T1, '--format', 'csv'], /--to is required/],
      [['--from', T1, '--to', T2], /--format must be csv or ndjson/],
      [['--from', T1, '--to', T2, '--format', 'xml'], /--format must be csv or ndjson/],
      [['--from', 'yesterday', '--to', T2, '--format', 'csv'], /--from must be an RFC 3339 timestamp/],
      [
        ['--from', '2026-01-01T00:00:00', '--to', T2, '--format', 'csv'],
        /--from must be an RFC 3339 timestamp/,
      ],
      [
        ['--from', '2026-02-30T00:00:00Z', '--to', '2026-03-02T00:00:00Z', '--format', 'csv'],
        /--from must be an RFC 3339/,
      ],
      [
        ['--from', T1, '--to', "2026-01-02T00:00:00Z'; DROP TABLE x; --", '--format', 'csv'],
        /--to must be an RFC 3339/,
      ],
      [['--from', T2, '--to', T1, '--format', 'csv'], /must be before --to/],
      [['--from', T1, '--to', T1, '--format', 'csv'], /must be before --to/],
      [['--from', T1, '--to', T2, '--format', 'csv', '--pool', "x' OR '1'='1"], /is not a pool id/],
      [['--from', T1, '--to', T2, '--format', 'csv', '--limit', '5'], /unknown flag --limit/],
    ];
    for (const [args, message] of cases) {
      const r = await jackpot(['export', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /usage: npm run jackpot -- export --from T1 --to T2 --format csv\|ndjson/);
      assert.equal(r.stdout, '');
    }
    const count = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jackpot.contributions');
    assert.equal(count.rows[0]?.n, 6, 'nothing in the arguments reached the SQL');
  },
);
