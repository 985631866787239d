import type { DrawTriggerMinor } from '../../shared/src/domain/index.js';

/** A mystery-trigger draw that answers from a list and records what it was asked. */
export function scripted(...answers: bigint[]): DrawTriggerMinor & { calls: [bigint, bigint][] } {
  const calls: [bigint, bigint][] = [];
  const draw = (low: bigint, high: bigint): bigint => {
    calls.push([low, high]);
    const next = answers.shift();
    if (next === undefined) throw new Error('draw called more often than scripted');
    return next;
  };
  return Object.assign(draw, { calls });
}
