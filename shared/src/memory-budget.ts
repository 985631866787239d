/**
 * The memory budget of a process: samples its memory on a timer, turns the sample into a pressure
 * level (shared/src/domain/memory-budget.ts: ok < 70 % ≤ warn < 85 % ≤ shed < 95 % ≤ critical,
 * with hysteresis on the way down), logs each change once, exports it as gauges and tells
 * listeners, which decide what to refuse or slow down.
 *
 * What is measured: the bytes the process holds live, V8's heap in use plus memory outside it
 * (`heapUsed + external`: Kafka fetch buffers, request bodies). Not the RSS: it also counts code
 * (~60-90 MB for Node with tsx, whatever the load) and memory already freed but not returned to
 * the OS, so it does not fall when the load does, and a service paused on it might never resume.
 * The budget is therefore set below the container's limit by that fixed part (see the configs).
 */
import type { Meter } from '@opentelemetry/api';
import { int } from './config.js';
import { nextPressureLevel, pressureRank, type PressureLevel } from './domain/memory-budget.js';
import type { Logger } from './logger.js';

export type { PressureLevel } from './domain/memory-budget.js';

/** What services read: the level now and its changes. Tests pass a fake. */
export interface MemoryPressure {
  level(): PressureLevel;
  /** `listener` is called on every change of level; returns the unsubscribe function. */
  onChange(listener: (level: PressureLevel, previous: PressureLevel) => void): () => void;
}

export interface MemoryMonitor extends MemoryPressure {
  /** Takes a sample now and applies it (the timer calls this). */
  sample(): PressureLevel;
  stop(): void;
}

export interface MemoryMonitorOptions {
  readonly budgetBytes: number;
  readonly logger: Logger;
  /** Gauges `jackpot.memory.pressure` (0-3), `jackpot.memory.used` and `jackpot.memory.budget` (bytes). */
  readonly meter?: Meter;
  /**
   * How often to sample: 1 s. A sample costs microseconds; a fetch (10 MB at most) or a request
   * body (1 MiB) cannot grow the process by much within a second.
   */
  readonly intervalMs?: number;
  /** The sample, in bytes; default `heapUsed + external` of `process.memoryUsage()`. */
  readonly read?: () => number;
}

const MEMORY_SAMPLE_INTERVAL_MS = 1_000;

function liveBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * `<PREFIX>_MEMORY_BUDGET_MB`, validated at start like every variable: 16 MB to 1 TB. Each
 * service's config documents its default.
 */
export function memoryBudgetMb(
  env: Record<string, string | undefined>,
  prefix: string,
  fallbackMb: number,
): number {
  return int(env, `${prefix}_MEMORY_BUDGET_MB`, fallbackMb, 16, 1_048_576);
}

export function startMemoryMonitor(opts: MemoryMonitorOptions): MemoryMonitor {
  const read = opts.read ?? liveBytes;
  const budget = opts.budgetBytes;
  const listeners = new Set<(level: PressureLevel, previous: PressureLevel) => void>();
  let current: PressureLevel = 'ok';
  let used = 0;

  function sample(): PressureLevel {
    used = read();
    const previous = current;
    current = nextPressureLevel(previous, used, budget);
    if (current !== previous) {
      const fields = {
        level: current,
        previous,
        usedMb: Math.round(used / 1048576),
        budgetMb: Math.round(budget / 1048576),
        rssMb: Math.round(process.memoryUsage.rss() / 1048576),
      };
      if (pressureRank(current) > pressureRank(previous))
        opts.logger.warn(
          fields,
          `memory pressure ${current}: ${Math.round((100 * used) / budget)} % of the budget in use`,
        );
      else opts.logger.info(fields, `memory pressure down to ${current}`);
      for (const l of listeners) l(current, previous);
    }
    return current;
  }

  if (opts.meter !== undefined) {
    const pressure = opts.meter.createObservableGauge('jackpot.memory.pressure', {
      unit: '1',
      description:
        'Memory pressure against the budget: 0 ok, 1 warn (70 %), 2 shed (85 %), 3 critical (95 %)',
    });
    const usedGauge = opts.meter.createObservableGauge('jackpot.memory.used', {
      unit: 'By',
      description: 'Live memory (V8 heap in use plus external), the budgeted sample',
    });
    const budgetGauge = opts.meter.createObservableGauge('jackpot.memory.budget', {
      unit: 'By',
      description: 'The memory budget (<SERVICE>_MEMORY_BUDGET_MB)',
    });
    pressure.addCallback((r) => r.observe(pressureRank(current)));
    usedGauge.addCallback((r) => r.observe(used));
    budgetGauge.addCallback((r) => r.observe(budget));
  }

  const timer = setInterval(sample, opts.intervalMs ?? MEMORY_SAMPLE_INTERVAL_MS);
  timer.unref();
  sample();

  return {
    level: () => current,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sample,
    stop: () => clearInterval(timer),
  };
}
