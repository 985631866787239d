import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intFlag, parseFlags, parseSince, UsageError } from '../../../../services/cli/src/flags.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');

void test('parseSince takes an age or an RFC 3339 timestamp with an offset', () => {
  const cases: [string, string][] = [
    ['90s', '2026-11-30T11:58:30.000Z'],
    ['30m', '2026-11-30T11:30:00.000Z'],
    ['24h', '2026-11-29T12:00:00.000Z'],
    ['7d', '2026-11-23T12:00:00.000Z'],
    ['2026-11-30T10:00:00Z', '2026-11-30T10:00:00.000Z'],
    ['2026-11-30T10:00:00+02:00', '2026-11-30T08:00:00.000Z'],
    ['2026-11-30 10:00:00.5Z', '2026-11-30T10:00:00.500Z'],
  ];
  for (const [input, expect] of cases) assert.equal(parseSince(input, NOW), expect, input);
  for (const bad of ['', '7', '7w', '-1h', '2026-11-30', '2026-11-30T10:00:00', 'yesterday', '1.5h'])
    assert.throws(() => parseSince(bad, NOW), UsageError, bad);
});

void test('intFlag accepts whole numbers in range only', () => {
  assert.equal(intFlag('limit', '50', 1, 100), 50);
  for (const bad of ['0', '101', '-1', '1.5', '1e2', ' 5', 'x', ''])
    assert.throws(() => intFlag('limit', bad, 1, 100), /--limit must be an integer from 1 to 100/, bad);
});

void test('parseFlags: values, switches, and the usage errors', () => {
  assert.deepEqual(
    parseFlags(['--reason', 'unknown_game', '--yes', '--limit=5'], ['reason', 'limit'], ['yes']),
    new Map([
      ['reason', 'unknown_game'],
      ['yes', 'true'],
      ['limit', '5'],
    ]),
  );
  const bad: [string[], RegExp][] = [
    [['--nope'], /unknown flag --nope/],
    [['--reason'], /--reason needs a value/],
    [['--reason', '--yes'], /--reason needs a value/],
    [['--yes=1'], /--yes takes no value/],
    [['--yes', '--yes'], /--yes given twice/],
    [['loose'], /unexpected argument "loose"/],
  ];
  for (const [args, message] of bad)
    assert.throws(() => parseFlags(args, ['reason'], ['yes']), message, args.join(' '));
});
