/**
 * The chaos suite's settings: environment variables and one flag, validated once into a frozen
 * object (a bad value stops the run with the variable's name, like every service).
 */
import { randomInt } from 'node:crypto';
import { AppError } from '../../shared/src/errors.js';
import { bool, int } from '../../shared/src/config.js';

export interface ChaosSettings {
  /** `--short`: the CI variant. */
  readonly short: boolean;
  /** Replays the fault plan, the traffic and every random choice (not the machine's timings). */
  readonly seed: number;
  /** Seconds of wager stream while faults are injected. */
  readonly durationSeconds: number;
  /** Events a second through the producer library straight to Kafka (duplicates and bad input included). */
  readonly kafkaRate: number;
  /** Wagers a second through the gateway. */
  readonly httpRate: number;
  /** The suite's own broker and cluster: never the shared ones on 9092 and 5432. */
  readonly kafkaPort: number;
  readonly pgPort: number;
  readonly database: string;
  readonly partitions: number;
  /** Aggregator replicas between faults; the scale fault goes 1 → 3 → 1 and back. */
  readonly baseReplicas: number;
  /** The replicas' group session: a SIGSTOPped replica is a zombie once it is over. */
  readonly sessionTimeoutMs: number;
  /** Probability per window of a self-SIGKILL at each fault point, for replicas started with fault points. */
  readonly faultPointProbability: number;
  /** How long the lag may take to drain after the stream stops. */
  readonly drainTimeoutSeconds: number;
  /** Leave the broker and the cluster running afterwards (faster reruns while developing). */
  readonly keepInfra: boolean;
}

export const USAGE = `usage: npm run test:chaos [-- --short]

Drives wagers through Kafka and the gateway while it kills, pauses and scales aggregator replicas,
restarts its own Kafka broker and Postgres cluster, kills database connections, and re-sends
duplicates and bad input; then checks that every wager was applied exactly once.

  --short                          the CI variant (90 s of stream instead of 240 s)
  CHAOS_SEED=N                     replay a run's plan and traffic (printed at the start)
  CHAOS_DURATION_SECONDS=N         seconds of stream (default 240, --short 90)
  CHAOS_KAFKA_RATE / CHAOS_HTTP_RATE   events a second per path (default 400 / 100)
  CHAOS_KAFKA_PORT / CHAOS_PG_PORT     the suite's own broker and cluster (default 19092 / 15432)
  CHAOS_FAULT_POINT_PROBABILITY=P  per window and fault point (default 0.002)
  CHAOS_DRAIN_TIMEOUT_SECONDS=N    (default 180)
  CHAOS_KEEP_INFRA=1               leave the suite's broker and cluster running afterwards
`;

function probability(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v.trim()) || !(n >= 0 && n <= 1))
    throw new AppError(
      'CONFIG_INVALID',
      `${name}=${JSON.stringify(v)} is invalid: expected a probability between 0 and 1`,
    );
  return n;
}

export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ChaosSettings {
  const unknown = argv.filter((a) => a !== '--short');
  if (unknown.length > 0)
    throw new AppError('CONFIG_INVALID', `unknown argument ${unknown[0] ?? ''}\n${USAGE}`);
  const short = argv.includes('--short');
  const kafkaPort = int(env, 'CHAOS_KAFKA_PORT', 19092, 1024, 65534);
  const pgPort = int(env, 'CHAOS_PG_PORT', 15432, 1024, 65535);
  // The shared broker and server other engineers' tests run on: restarting them is not ours to do.
  if (kafkaPort === 9092 || kafkaPort === 9093)
    throw new AppError(
      'CONFIG_INVALID',
      `CHAOS_KAFKA_PORT=${kafkaPort} is the shared broker's; the suite restarts its broker, so it needs one of its own`,
    );
  if (pgPort === 5432)
    throw new AppError(
      'CONFIG_INVALID',
      'CHAOS_PG_PORT=5432 is the shared server; the suite restarts its cluster, so it needs one of its own',
    );
  return Object.freeze({
    short,
    seed: int(env, 'CHAOS_SEED', randomInt(2 ** 31), 0, 2 ** 31 - 1),
    // 90 s fits each heavy fault once (a broker restart alone is 15-25 s on two cores; the stream
    // runs on until each was injected anyway); 240 s repeats most of them.
    durationSeconds: int(env, 'CHAOS_DURATION_SECONDS', short ? 90 : 240, 10, 3600),
    // Modest rates: the point is faults under a flowing stream, not throughput; the box has two
    // cores shared by two brokers, two Postgres servers, five services and this driver.
    kafkaRate: int(env, 'CHAOS_KAFKA_RATE', 400, 1, 100_000),
    httpRate: int(env, 'CHAOS_HTTP_RATE', 100, 0, 100_000),
    kafkaPort,
    pgPort,
    database: 'jackpot_chaos',
    partitions: 12,
    baseReplicas: 2,
    // 6 s (the e2e tests' value): a zombie pause is this plus a few seconds, so short enough to repeat.
    sessionTimeoutMs: 6000,
    // 0.002 per window and point: with ~20 windows a second across the replicas, a self-kill every
    // 15-30 s; 0.02 would kill a replica within seconds of each (slow, ~5 s CPU) start.
    faultPointProbability: probability(env, 'CHAOS_FAULT_POINT_PROBABILITY', 0.002),
    drainTimeoutSeconds: int(env, 'CHAOS_DRAIN_TIMEOUT_SECONDS', 180, 10, 3600),
    keepInfra: bool(env, 'CHAOS_KEEP_INFRA', false),
  });
}
