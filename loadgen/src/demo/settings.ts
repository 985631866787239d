/** The demo's settings, from the environment, validated at start (see `main.ts`). */
import { int } from '../../../shared/src/config.js';

export interface DemoSettings {
  readonly durationSeconds: number;
  readonly kafkaRate: number;
  /** 0: no HTTP stream. */
  readonly httpRate: number;
  readonly catchUpSeconds: number;
  /** Share of re-sent wagers (same eventId): each must count once. */
  readonly dupRate: number;
  /** Share of invalid events on the Kafka path: each must become a dead letter with its reason. */
  readonly invalidRate: number;
  readonly aggregatorReplicas: number;
}

export function demoSettings(env: Readonly<Record<string, string | undefined>>): DemoSettings {
  return Object.freeze({
    durationSeconds: int(env, 'DEMO_DURATION_SECONDS', 60, 1, 3600),
    kafkaRate: int(env, 'DEMO_RATE', 5000, 1, 1_000_000),
    httpRate: int(env, 'DEMO_HTTP_RATE', 500, 0, 1_000_000),
    catchUpSeconds: int(env, 'DEMO_CATCH_UP_SECONDS', 120, 1, 3600),
    dupRate: 0.02,
    invalidRate: 0.005,
    aggregatorReplicas: int(env, 'AGGREGATOR_REPLICAS', 2, 1, 64),
  });
}

/**
 * 30 s, not loadgen's 10 s: when the aggregators fall behind under this load, a probe takes as long
 * as their backlog, and the demo should report that figure rather than stop probing.
 */
export const PROBE_TIMEOUT_MS = 30_000;

/**
 * 5 s: probes of the load's first seconds measure the producers' connections, the first metadata
 * requests and a cold JIT (a p99 of about a second in the first 5 s here, ~200 ms after); they are
 * reported apart, and the percentiles are those of the pipeline at the rate asked.
 */
export const PROBE_WARMUP_MS = 5_000;
