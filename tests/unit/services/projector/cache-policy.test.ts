import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cacheKeys,
  evictionsFor,
  keyMatcher,
  settledExpiry,
  stalePatterns,
} from '../../../../services/projector/src/cache-policy.js';

void test('keyMatcher: `*` is any run of characters, everything else is literal', () => {
  const table: Array<[pattern: string, key: string, matches: boolean]> = [
    ['wins:recent', 'wins:recent', true],
    ['wins:recent', 'wins:recent2', false],
    ['history:demo:mini:*', 'history:demo:mini:1:2', true],
    ['history:demo:mini:*', 'history:demo:minix:1:2', false],
    ['history:demo:mini:*', 'history:demo:mini:', true],
    ['history:demo:mini:*', 'history:demo:grand:1:2', false],
    ['stats:*', 'stats:jackpots:1:2', true],
    ['*:recent', 'wins:recent', true],
    ['a.b:*', 'axb:1', false],
    ['a(b)+[c]?:*', 'a(b)+[c]?:1', true],
    ['stats:games:@all:*', 'stats:games:demo:1:2:50', false],
    ['*', '', true],
  ];
  for (const [pattern, key, matches] of table)
    assert.equal(keyMatcher(pattern)(key), matches, `${pattern} ~ ${key}`);
});

void test('stalePatterns: a change makes its pool history and its jackpot statistics stale; a new cycle also the wins', () => {
  const base = ['history:demo:mini:*', 'stats:jackpots:*', 'stats:games:demo:*', 'stats:games:@all:*'];
  const table: Array<[cycle: number, previous: number | undefined, expected: string[]]> = [
    [1, 1, base],
    [2, 1, [...base, 'wins:recent']],
    [1, undefined, [...base, 'wins:recent']],
  ];
  for (const [cycle, previousCycle, expected] of table)
    assert.deepEqual(
      stalePatterns({ poolId: 'demo:mini', jackpotId: 'demo', cycle, previousCycle }),
      expected,
    );
  // The keys the routes build fall under those patterns, and another pool's or jackpot's do not.
  const patterns = stalePatterns({ poolId: 'demo:mini', jackpotId: 'demo', cycle: 2, previousCycle: 1 });
  const stale = (key: string): boolean => patterns.some((p) => keyMatcher(p)(key));
  const keys: Array<[string, boolean]> = [
    [cacheKeys.history('demo:mini', 0, 3_600_000), true],
    [cacheKeys.history('demo:grand', 0, 3_600_000), false],
    [cacheKeys.jackpotStats(0, 1), true],
    [cacheKeys.gameStats('demo', 0, 1, 50), true],
    [cacheKeys.gameStats(null, 0, 1, 50), true],
    [cacheKeys.gameStats('uk', 0, 1, 50), false],
    [cacheKeys.recentWins, true],
  ];
  for (const [key, expected] of keys) assert.equal(stale(key), expected, key);
});

void test('settledExpiry: at most settleMs after the event, never later than it was', () => {
  const table: Array<[expiresAt: number, now: number, settle: number, expected: number]> = [
    [10_000, 0, 1_000, 1_000],
    [500, 0, 1_000, 500],
    [10_000, 9_500, 1_000, 10_000],
    [10_000, 2_000, 0, 2_000],
  ];
  for (const [expiresAt, now, settle, expected] of table)
    assert.equal(settledExpiry(expiresAt, now, settle), expected);
});

void test('evictionsFor: the entries closest to expiring go first, until the keys and bytes fit', () => {
  const entries = [
    { key: 'a', bytes: 40, expiresAtMs: 300 },
    { key: 'b', bytes: 30, expiresAtMs: 100 },
    { key: 'c', bytes: 20, expiresAtMs: 200 },
    { key: 'd', bytes: 10, expiresAtMs: 100 },
  ];
  const table: Array<
    [incoming: { key: string; bytes: number }, maxKeys: number, maxBytes: number, expected: string[] | null]
  > = [
    [{ key: 'e', bytes: 0 }, 10, 1_000, []],
    [{ key: 'e', bytes: 10 }, 4, 1_000, ['b']],
    [{ key: 'e', bytes: 10 }, 3, 1_000, ['b', 'd']],
    [{ key: 'e', bytes: 15 }, 10, 110, ['b']],
    [{ key: 'e', bytes: 60 }, 10, 110, ['b', 'd', 'c']],
    [{ key: 'e', bytes: 110 }, 10, 110, ['b', 'd', 'c', 'a']],
    [{ key: 'e', bytes: 111 }, 10, 110, null],
    // The same key is replaced: its old bytes do not count.
    [{ key: 'a', bytes: 50 }, 4, 110, []],
    [{ key: 'a', bytes: 51 }, 4, 110, ['b']],
  ];
  for (const [incoming, maxKeys, maxBytes, expected] of table)
    assert.deepEqual(
      evictionsFor(entries, incoming, { maxKeys, maxBytes }),
      expected,
      JSON.stringify(incoming) + ` ${maxKeys} ${maxBytes}`,
    );
});
