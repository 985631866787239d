import { commonConfig, int, str, type CommonConfig, topicName } from '../../../shared/src/config.js';
import { AppError } from '../../../shared/src/errors.js';
import { httpLimits, type HttpLimits } from '../../../shared/src/http.js';
import { TOPICS } from '../../../shared/src/kafka.js';
import { memoryBudgetMb } from '../../../shared/src/memory-budget.js';
import type { TierLimits } from './cache.js';

type Env = Record<string, string | undefined>;

export interface ProjectorConfig extends CommonConfig {
  /** `PROJECTOR_PORT`, default 8081 (the contract's). 0 picks a free port (tests, benchmarks). */
  readonly port: number;
  /** `PROJECTOR_HOST`, default 0.0.0.0: displays reach it from other machines. */
  readonly host: string;
  /**
   * `PROJECTOR_TOPIC`, default `jackpot.pool-updates.v1`. Only tests change it, to read a topic of
   * their own.
   */
  readonly topic: string;
  /**
   * `AGGREGATOR_TOPIC` (default `jackpot.wagers.v1`) and `AGGREGATOR_GROUP_ID` (default
   * `jackpot-aggregator`), the aggregators' own variables: the live page's lag is the wagers on
   * that topic past that group's stored positions. Only read for the chart.
   */
  readonly wagerTopic: string;
  readonly aggregatorGroupId: string;
  /**
   * `PROJECTOR_RESYNC_MS`, default 1000: how often every pool is re-read from Postgres. This bounds
   * how far behind the served state can be when an update never reaches the topic (an aggregator
   * that died between its commit and its publish), and it is how new pools appear. The contract
   * allows about a second; each resync is one query over a few dozen rows, so shorter is cheap too.
   */
  readonly resyncMs: number;
  /**
   * SSE comment heartbeat, 15 s: under the 30-60 s idle timeouts of common proxies and load
   * balancers, and it lets us notice dead clients. Not an environment variable.
   */
  readonly sseHeartbeatMs: number;
  /**
   * `PROJECTOR_SSE_MAX_CLIENTS`, default 1,000: open SSE streams at most; past it a new one gets
   * 503 with Retry-After. Each stream is a connection, up to ~16 KiB of unsent events (a slow
   * client gets the latest state per pool instead of every change) and one write per change, so
   * CPU grows with streams × changes per second. At most PROJECTOR_HTTP_MAX_CONNECTIONS, and
   * better well under it so that polling displays keep room.
   */
  readonly sseMaxClients: number;
  /**
   * A stream whose socket has not drained for this long is dropped, 60 s: a display that reads
   * catches up within seconds; one that has read nothing for a minute is frozen or hostile, and
   * holds a slot of sseMaxClients. Checked at each heartbeat. Not an environment variable.
   */
  readonly sseStallMs: number;
  /** `PROJECTOR_HTTP_*`: connection cap and timeouts (shared/src/http.ts). Every SSE stream holds a connection. */
  readonly http: HttpLimits;
  /**
   * `PROJECTOR_MEMORY_BUDGET_MB`, default 128: live memory (V8 heap in use plus buffers, not the
   * RSS) the projector aims to stay under; it only warns (at 70, 85 and 95 %) and exports the level,
   * since what it holds is bounded by the number of pools and open connections
   * (PROJECTOR_HTTP_MAX_CONNECTIONS). A warning means many more pools or streams than planned.
   */
  readonly memoryBudgetMb: number;
  /**
   * The warm and cold cache tiers (cache.ts; the hot one is the pool store, never expired).
   * - warm, statistics and recent wins: `PROJECTOR_CACHE_WARM_TTL_S` (default 300),
   *   `PROJECTOR_CACHE_WARM_MAX_MB` (default 8) and 1,000 answers at most;
   * - cold, pool history: `PROJECTOR_CACHE_COLD_TTL_S` (default 1800),
   *   `PROJECTOR_CACHE_COLD_MAX_MB` (default 16) and 1,000 answers at most.
   * The TTLs are the guide's (5 and 30 minutes); they matter little while wagers flow, since a
   * pool change makes its answers expire within `settleMs`. The sizes are under the guide's 30 and
   * 20 MB: a statistics answer is a few kB and a month of one pool's hours about 100 kB, and the
   * projector aims at 100 MB of RSS in all. Longer TTLs and more bytes mean fewer queries when
   * traffic is quiet, at the cost of memory.
   */
  readonly cache: { readonly warm: TierLimits; readonly cold: TierLimits; readonly settleMs: number };
}

const MB = 1024 * 1024;
/** Answers per tier at most: bounds node-cache's per-key work as well as the bytes. */
const CACHE_MAX_KEYS = 1_000;
/**
 * 1 s: a cached statistic or history may lag a pool change by this much, like the pools themselves
 * lag Postgres by about a second (the contract); under load it is one query a second per answer.
 * Not an environment variable.
 */
const CACHE_SETTLE_MS = 1_000;

/** Validates the environment once; a bad value throws CONFIG_INVALID naming the variable. */
export function loadProjectorConfig(env: Env): Readonly<ProjectorConfig> {
  const config: ProjectorConfig = {
    ...commonConfig(env),
    port: int(env, 'PROJECTOR_PORT', 8081, 0, 65535),
    host: str(env, 'PROJECTOR_HOST', '0.0.0.0'),
    topic: topicName(env, 'PROJECTOR_TOPIC', TOPICS.poolUpdates),
    wagerTopic: topicName(env, 'AGGREGATOR_TOPIC', TOPICS.wagers),
    aggregatorGroupId: str(env, 'AGGREGATOR_GROUP_ID', 'jackpot-aggregator'),
    resyncMs: int(env, 'PROJECTOR_RESYNC_MS', 1000, 50, 600_000),
    sseHeartbeatMs: 15_000,
    sseMaxClients: int(env, 'PROJECTOR_SSE_MAX_CLIENTS', 1000, 1, 1_000_000),
    sseStallMs: 60_000,
    http: httpLimits(env, 'PROJECTOR'),
    memoryBudgetMb: memoryBudgetMb(env, 'PROJECTOR', 128),
    cache: {
      warm: {
        ttlMs: int(env, 'PROJECTOR_CACHE_WARM_TTL_S', 300, 1, 86_400) * 1000,
        maxBytes: int(env, 'PROJECTOR_CACHE_WARM_MAX_MB', 8, 1, 1024) * MB,
        maxKeys: CACHE_MAX_KEYS,
      },
      cold: {
        ttlMs: int(env, 'PROJECTOR_CACHE_COLD_TTL_S', 1800, 1, 86_400) * 1000,
        maxBytes: int(env, 'PROJECTOR_CACHE_COLD_MAX_MB', 16, 1, 1024) * MB,
        maxKeys: CACHE_MAX_KEYS,
      },
      settleMs: CACHE_SETTLE_MS,
    },
  };
  if (config.sseMaxClients > config.http.maxConnections) {
    throw new AppError(
      'CONFIG_INVALID',
      `PROJECTOR_SSE_MAX_CLIENTS=${config.sseMaxClients} is invalid: expected at most PROJECTOR_HTTP_MAX_CONNECTIONS (${config.http.maxConnections})`,
    );
  }
  return Object.freeze(config);
}
