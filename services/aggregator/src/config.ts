import { commonConfig, int, str, topicName, type CommonConfig } from '../../../shared/src/config.js';
import { AppError } from '../../../shared/src/errors.js';
import { httpLimits, type HttpLimits } from '../../../shared/src/http-core.js';
import { TOPICS } from '../../../shared/src/kafka.js';
import type { RetentionDays } from '../../../shared/src/retention.js';
import { memoryBudgetMb } from '../../../shared/src/memory-budget.js';

export interface AggregatorConfig extends CommonConfig {
  readonly port: number;
  readonly groupId: string;
  readonly topic: string;
  readonly poolUpdatesTopic: string;
  readonly dlqTopic: string;
  readonly awardsTopic: string;
  /**
   * A window closes at this many wagers (a bigger fetched batch is cut). Measured on this 2-core
   * machine with four pools (bench:aggregator): a 10,000-wager window spends ~0.5 s in its
   * transaction, ~0.3 s of it holding the pool locks (plan, binary COPY of ~40,000 ledger rows,
   * commit), the rest overlapping the window before. Larger windows raise throughput a little
   * and latency a lot; memory is a few MB per window.
   */
  readonly batchMaxEvents: number;
  /**
   * How long the broker may hold a fetch for data (kafkajs `maxWaitTimeInMs`; it answers sooner
   * once 64 KiB are there). A window is written as soon as its fetch lands and a writer is free,
   * and grows while the writers are busy (window-queue.ts), so this is the longest a wager waits
   * for its window at a low rate. 50 ms: 20 windows a second a replica when traffic is light (each
   * costs Postgres a transaction, whatever its size), well inside the 250 ms p99 target.
   */
  readonly batchMaxWaitMs: number;
  /**
   * Closed windows that may wait for a transaction before fetching pauses (it resumes at half).
   * Fetches already in flight still land, so what is held is about this many windows, plus the
   * two being written, plus one fetch. Every waiting wager costs ~1 kB (its bytes, kafkajs'
   * message object and the parsed wager). 2 (was 8) and 4 MB fetches (was 10): the compiled
   * service's peak RSS draining a 200,000-wager backlog went from ~320 to ~290 MB with no
   * throughput lost that the (noisy) benchmark could see, since Postgres is the wall (README,
   * "Performance of the write path").
   */
  readonly queuedWindowsMax: number;
  /** Bytes one fetch may bring at most (kafkajs `maxBytes`, also the cap per partition). */
  readonly fetchMaxBytes: number;
  /** Partitions whose fetched batches may join one window at once: the topic's partition count. */
  readonly partitionsConsumedConcurrently: number;
  /** How long the group waits for a silent replica before handing its partitions to others. */
  readonly sessionTimeoutMs: number;
  readonly dbPoolMax: number;
  /**
   * Test-only crash points (`AGGREGATOR_FAULT_POINTS=after_copy:0.02,after_commit:0.02`): at each
   * named point the process kills itself with SIGKILL with that probability. `after_copy`: ledger
   * and pools written, transaction not committed; `after_commit`: committed in Postgres, not yet
   * in Kafka. The chaos suite uses them to prove neither loses nor doubles a wager. Empty in
   * production.
   */
  readonly faultPoints: ReadonlyMap<FaultPoint, number>;
  /**
   * Days of daily partitions kept; older days are dropped whole, hourly (shared/src/retention.ts).
   * - `applied_events`, RETENTION_DUPLICATE_CHECK_DAYS (7): a wager re-sent up to this many days
   *   after it was first applied is still counted once (up to a week longer, as the table is cut
   *   by week); later it would count again. Game servers retry within minutes; 7 days also covers
   *   replaying a topic's whole default retention. Each week kept costs one more index probe per
   *   claimed id (~35 ms per 10,000-wager window).
   * - `dead_letters`, RETENTION_DEAD_LETTERS_DAYS (30): time to look at and re-drive bad input.
   * - `ledger`, RETENTION_LEDGER_DAYS (0: keep forever): the ledger is the audit trail of
   *   money; when set, dropped days are summed per pool and cycle into jackpot.ledger_rollups
   *   first, so reconcile still holds, but the per-wager rows are gone (export them before).
   */
  readonly retentionDays: RetentionDays;
  /** `AGGREGATOR_HTTP_*`: connection cap and timeouts of the health and metrics port (shared/src/http.ts). */
  readonly http: HttpLimits;
  /**
   * `AGGREGATOR_MEMORY_BUDGET_MB`, default 256: live memory (V8 heap in use plus buffers, not the
   * RSS; shared/src/memory-budget.ts) the replica aims to stay under. At 70 % it warns, at 85 % its
   * windows shrink to a quarter of AGGREGATOR_BATCH_MAX_EVENTS, at 95 % it stops fetching until
   * back under 80 %. See the README (Memory budget and backpressure) for what it
   * holds at rest and under load. Lower it and the
   * replica slows down earlier (less throughput while a backlog drains); set it under the
   * container's memory limit minus ~150 MB (code and memory not yet returned to the OS).
   */
  readonly memoryBudgetMb: number;
}

export const DEFAULT_QUEUED_WINDOWS_MAX = 2;
export const DEFAULT_FETCH_MAX_BYTES = 4 * 1024 * 1024;

export const FAULT_POINTS = ['after_copy', 'after_commit'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export function faultPoints(env: Record<string, string | undefined>): ReadonlyMap<FaultPoint, number> {
  const raw = env['AGGREGATOR_FAULT_POINTS']?.trim() ?? '';
  const out = new Map<FaultPoint, number>();
  if (raw === '') return out;
  for (const item of raw.split(',')) {
    const [name, p] = item.trim().split(':');
    const probability = Number(p);
    if (
      !(FAULT_POINTS as readonly string[]).includes(name ?? '') ||
      !(probability >= 0 && probability <= 1)
    ) {
      throw new AppError(
        'CONFIG_INVALID',
        `AGGREGATOR_FAULT_POINTS: "${item}" is not name:probability with a name of ${FAULT_POINTS.join(', ')} and a probability from 0 to 1`,
      );
    }
    out.set(name as FaultPoint, probability);
  }
  return out;
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<AggregatorConfig> {
  return Object.freeze({
    ...commonConfig(env),
    port: int(env, 'AGGREGATOR_PORT', 8090, 0, 65535),
    groupId: str(env, 'AGGREGATOR_GROUP_ID', 'jackpot-aggregator'),
    topic: topicName(env, 'AGGREGATOR_TOPIC', TOPICS.wagers),
    poolUpdatesTopic: topicName(env, 'POOL_UPDATES_TOPIC', TOPICS.poolUpdates),
    dlqTopic: topicName(env, 'DLQ_TOPIC', TOPICS.wagersDlq),
    awardsTopic: topicName(env, 'AWARDS_TOPIC', TOPICS.awards),
    batchMaxEvents: int(env, 'AGGREGATOR_BATCH_MAX_EVENTS', 10_000, 1, 1_000_000),
    batchMaxWaitMs: int(env, 'AGGREGATOR_BATCH_MAX_WAIT_MS', 50, 0, 60_000),
    partitionsConsumedConcurrently: int(env, 'AGGREGATOR_PARTITIONS_CONCURRENTLY', 12, 1, 1024),
    queuedWindowsMax: int(env, 'AGGREGATOR_QUEUED_WINDOWS_MAX', DEFAULT_QUEUED_WINDOWS_MAX, 1, 64),
    fetchMaxBytes: int(
      env,
      'AGGREGATOR_FETCH_MAX_BYTES',
      DEFAULT_FETCH_MAX_BYTES,
      64 * 1024,
      256 * 1024 * 1024,
    ),
    sessionTimeoutMs: int(env, 'AGGREGATOR_SESSION_TIMEOUT_MS', 10_000, 3_000, 300_000),
    dbPoolMax: int(env, 'AGGREGATOR_DB_POOL_MAX', 4, 2, 100),
    faultPoints: faultPoints(env),
    retentionDays: {
      applied_events: int(env, 'RETENTION_DUPLICATE_CHECK_DAYS', 7, 1, 3650),
      dead_letters: int(env, 'RETENTION_DEAD_LETTERS_DAYS', 30, 0, 3650),
      ledger: int(env, 'RETENTION_LEDGER_DAYS', 0, 0, 36500),
    },
    http: httpLimits(env, 'AGGREGATOR'),
    memoryBudgetMb: memoryBudgetMb(env, 'AGGREGATOR', 256),
  });
}
