import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ceilHour,
  parseJackpotId,
  parseLimit,
  parseRange,
} from '../../../../services/projector/src/query.js';

const H = 3_600_000;
const NOW = Date.parse('2026-11-30T12:34:56.789Z');
const at = (iso: string): number => Date.parse(iso);

void test('ceilHour: the end of the current hour; an hour boundary stays', () => {
  assert.equal(ceilHour(NOW), at('2026-11-30T13:00:00Z'));
  assert.equal(ceilHour(at('2026-11-30T13:00:00Z')), at('2026-11-30T13:00:00Z'));
  assert.equal(ceilHour(at('2026-11-30T13:00:00.001Z')), at('2026-11-30T14:00:00Z'));
});

void test('parseRange: defaults, formats, whole hours and bounds', () => {
  const ok: Array<[query: Record<string, unknown>, fromMs: number, toMs: number]> = [
    [{}, at('2026-11-29T13:00:00Z'), at('2026-11-30T13:00:00Z')],
    [{ from: '2026-11-30T00:00:00Z' }, at('2026-11-30T00:00:00Z'), at('2026-12-01T00:00:00Z')],
    [{ to: '2026-11-30T06:00:00Z' }, at('2026-11-29T06:00:00Z'), at('2026-11-30T06:00:00Z')],
    [{ from: '2026-11-01', to: '2026-11-02' }, at('2026-11-01T00:00:00Z'), at('2026-11-02T00:00:00Z')],
    [
      { from: '2026-11-01T10:00:00+05:30', to: '2026-11-01T10:00:00Z' },
      at('2026-11-01T04:00:00Z'),
      at('2026-11-01T10:00:00Z'),
    ],
    [
      { from: '2026-11-01T10:00Z', to: '2026-11-01T10:00:00.5Z' },
      at('2026-11-01T10:00:00Z'),
      at('2026-11-01T11:00:00Z'),
    ],
    [
      { from: '2026-11-01T00:00:00Z', to: '2026-12-02T00:00:00Z' },
      at('2026-11-01T00:00:00Z'),
      at('2026-12-02T00:00:00Z'),
    ],
    [{ unrelated: 'x' }, at('2026-11-29T13:00:00Z'), at('2026-11-30T13:00:00Z')],
    [
      { from: '2026-11-01T10:30:00Z', to: '2026-11-01T10:45:00Z' },
      at('2026-11-01T10:00:00Z'),
      at('2026-11-01T11:00:00Z'),
    ],
  ];
  for (const [query, fromMs, toMs] of ok)
    assert.deepEqual(parseRange(query, NOW), { ok: true, value: { fromMs, toMs } }, JSON.stringify(query));

  const bad: Array<[query: Record<string, unknown>, param: string]> = [
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2026-11-01T10:00:00' }, 'from'], // no offset: which zone?
    [{ from: '2026-11-01T10:00:00 05:30' }, 'from'], // an unencoded + became a space
    [{ from: '1764500000000' }, 'from'],
    [{ to: '' }, 'to'],
    [{ to: '2026-13-01' }, 'to'],
    [{ from: ['2026-11-01', '2026-11-02'] }, 'from'],
    [{ from: '2026-11-02', to: '2026-11-01' }, 'from'],
    [{ from: '2026-11-01', to: '2026-11-01' }, 'from'],
    [{ from: '2026-11-01T00:00:00Z', to: '2026-12-02T00:00:00.001Z' }, 'to'],
    [{ from: '2026-10-31T23:59:59Z', to: '2026-12-02T00:00:00Z' }, 'to'], // 31 days and an hour once whole
  ];
  for (const [query, param] of bad) {
    const r = parseRange(query, NOW);
    assert.equal(r.ok, false, JSON.stringify(query));
    if (!r.ok) assert.equal(r.param, param, JSON.stringify(query));
  }
  assert.equal(24 * H, at('2026-11-30T13:00:00Z') - at('2026-11-29T13:00:00Z'));
});

void test('parseLimit and parseJackpotId', () => {
  const limits: Array<[raw: unknown, expected: number | null]> = [
    [undefined, 50],
    ['1', 1],
    ['500', 500],
    ['0', null],
    ['501', null],
    ['-1', null],
    ['1.5', null],
    ['ten', null],
    ['', null],
    [['1', '2'], null],
  ];
  for (const [raw, expected] of limits) {
    const r = parseLimit(raw === undefined ? {} : { limit: raw }, 50, 500);
    assert.deepEqual(r.ok ? r.value : null, expected, String(raw));
    if (!r.ok) assert.equal(r.param, 'limit');
  }
  const ids: Array<[raw: unknown, expected: string | null]> = [
    [undefined, null],
    ['demo', 'demo'],
    ['a.b_c-1', 'a.b_c-1'],
    ['demo:mini', 'invalid'],
    ['', 'invalid'],
    ['x'.repeat(65), 'invalid'],
    [['a', 'b'], 'invalid'],
  ];
  for (const [raw, expected] of ids) {
    const r = parseJackpotId(raw === undefined ? {} : { jackpotId: raw });
    assert.deepEqual(r.ok ? r.value : 'invalid', expected, String(raw));
  }
});
