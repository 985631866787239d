/**
 * Memory pressure: how close a process is to its memory budget, as one of four levels, decided
 * from a sample of the bytes it uses. Pure: the sample comes in (shared/src/memory-budget.ts reads
 * it from the process on a timer), the previous level comes in, the new level goes out.
 *
 * - **ok**: below 70 % of the budget; nothing to do.
 * - **warn**: from 70 %; logged, nothing refused.
 * - **shed**: from 85 %; services take less in (the gateway refuses wagers with 503, the
 *   aggregator closes windows at a quarter of their size).
 * - **critical**: from 95 %; the aggregator stops fetching until the level is back under `shed`.
 *
 * Going up is immediate (the first sample at or over a threshold); going down needs the sample to
 * fall `margin` below the threshold of the level being left (5 points: leaving `shed` takes less
 * than 80 %), so a process hovering at a threshold does not switch its behaviour every sample.
 */

export type PressureLevel = 'ok' | 'warn' | 'shed' | 'critical';

/** In rising order; a level's index is its gauge value (0 to 3). */
const PRESSURE_LEVELS: readonly PressureLevel[] = ['ok', 'warn', 'shed', 'critical'];

export interface PressureThresholds {
  /** Fractions of the budget at which each level starts, rising. */
  readonly warn: number;
  readonly shed: number;
  readonly critical: number;
  /** How far (a fraction of the budget) below a level's threshold the sample must fall to leave it. */
  readonly margin: number;
}

const DEFAULT_PRESSURE_THRESHOLDS: PressureThresholds = Object.freeze({
  warn: 0.7,
  shed: 0.85,
  critical: 0.95,
  margin: 0.05,
});

export function pressureRank(level: PressureLevel): number {
  return PRESSURE_LEVELS.indexOf(level);
}

function threshold(level: PressureLevel, t: PressureThresholds): number {
  return level === 'ok' ? 0 : t[level];
}

/**
 * The level after a sample of `usedBytes` against `budgetBytes`, given the level before it. A
 * budget that is not a positive number is a bug in the caller and throws.
 */
export function nextPressureLevel(
  previous: PressureLevel,
  usedBytes: number,
  budgetBytes: number,
  t: PressureThresholds = DEFAULT_PRESSURE_THRESHOLDS,
): PressureLevel {
  if (!(budgetBytes > 0) || !Number.isFinite(budgetBytes))
    throw new RangeError(`budgetBytes must be a positive number, got ${budgetBytes}`);
  if (!(t.warn < t.shed && t.shed < t.critical && t.margin >= 0 && t.margin < t.warn))
    throw new RangeError('thresholds must rise and the margin stay under the first');
  const ratio = Math.max(0, usedBytes) / budgetBytes;
  // Up: the highest level whose threshold the sample reaches.
  let raw = 0;
  for (let i = 1; i < PRESSURE_LEVELS.length; i++)
    if (ratio >= threshold(PRESSURE_LEVELS[i] as PressureLevel, t)) raw = i;
  let rank = pressureRank(previous);
  if (raw >= rank) return PRESSURE_LEVELS[raw] as PressureLevel;
  // Down: one level at a time, each only when the sample is `margin` below that level's threshold.
  while (rank > raw && ratio < threshold(PRESSURE_LEVELS[rank] as PressureLevel, t) - t.margin) rank--;
  return PRESSURE_LEVELS[rank] as PressureLevel;
}
