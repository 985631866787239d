import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextPressureLevel, type PressureLevel } from '../../../shared/src/domain/memory-budget.js';

const MB = 1024 * 1024;
const BUDGET = 100 * MB;

void test('rising: the highest threshold reached, from any level below it', () => {
  const cases: [PressureLevel, number, PressureLevel][] = [
    ['ok', 0, 'ok'],
    ['ok', 69.9, 'ok'],
    ['ok', 70, 'warn'],
    ['ok', 84.9, 'warn'],
    ['ok', 85, 'shed'],
    ['ok', 94.9, 'shed'],
    ['ok', 95, 'critical'],
    ['ok', 250, 'critical'],
    ['warn', 86, 'shed'],
    ['warn', 99, 'critical'],
    ['shed', 95, 'critical'],
    ['critical', 100, 'critical'],
  ];
  for (const [previous, percent, expected] of cases) {
    assert.equal(nextPressureLevel(previous, percent * MB, BUDGET), expected, `${previous} at ${percent} %`);
  }
});

void test('falling: a level is left only 5 points below its threshold, one level at a time as the sample allows', () => {
  const cases: [PressureLevel, number, PressureLevel][] = [
    ['warn', 69, 'warn'],
    ['warn', 65.1, 'warn'],
    ['warn', 64.9, 'ok'],
    ['shed', 84, 'shed'],
    ['shed', 80, 'shed'],
    ['shed', 79.9, 'warn'],
    ['shed', 64.9, 'ok'],
    ['critical', 94, 'critical'],
    ['critical', 90, 'critical'],
    ['critical', 89.9, 'shed'],
    ['critical', 79.9, 'warn'],
    ['critical', 10, 'ok'],
    ['critical', 0, 'ok'],
  ];
  for (const [previous, percent, expected] of cases) {
    assert.equal(nextPressureLevel(previous, percent * MB, BUDGET), expected, `${previous} at ${percent} %`);
  }
});

void test('hovering at a threshold does not flap', () => {
  let level: PressureLevel = 'ok';
  const seen: PressureLevel[] = [];
  for (const percent of [84, 86, 84, 86, 83, 81, 86, 80.5, 79, 71, 69, 66, 64]) {
    level = nextPressureLevel(level, percent * MB, BUDGET);
    seen.push(level);
  }
  assert.deepEqual(seen, [
    'warn',
    'shed',
    'shed',
    'shed',
    'shed',
    'shed',
    'shed',
    'shed',
    'warn',
    'warn',
    'warn',
    'warn',
    'ok',
  ]);
});

void test('a negative sample counts as zero; a budget that is not positive is refused', () => {
  assert.equal(nextPressureLevel('critical', -5, BUDGET), 'ok');
  assert.throws(() => nextPressureLevel('ok', 1, 0), RangeError);
  assert.throws(() => nextPressureLevel('ok', 1, Number.NaN), RangeError);
  assert.throws(
    () => nextPressureLevel('ok', 1, BUDGET, { warn: 0.9, shed: 0.8, critical: 0.95, margin: 0.05 }),
    RangeError,
  );
});
