import { commonConfig, int, str, type CommonConfig, topicName } from '../../../shared/src/config.js';
import { httpLimits, type HttpLimits } from '../../../shared/src/http.js';
import { TOPICS } from '../../../shared/src/kafka.js';
import { memoryBudgetMb } from '../../../shared/src/memory-budget.js';

type Env = Record<string, string | undefined>;

/** The contract's limits for one request: at most 1,000 wagers and 1 MiB. Not configurable. */
export const MAX_WAGERS_PER_REQUEST = 1000;
export const MAX_BODY_BYTES = 1024 * 1024;

export interface RateLimitConfig {
  /**
   * `INGEST_RATE_LIMIT_PER_SECOND`, default 50,000 wagers a second per API key, sustained. A busy
   * game server sends a few thousand a second; 50,000 leaves it room for growth and a catch-up
   * after an outage while still stopping a runaway client (a retry loop without backoff) long
   * before it starves others. Lower protects the pipeline more and throttles legitimate spikes;
   * higher the reverse. Counted per gateway process: with N gateways behind a balancer a key may
   * reach N times this.
   */
  readonly perSecond: number;
  /**
   * `INGEST_RATE_LIMIT_BURST`, default 100,000 wagers: two seconds at the default rate, so a game
   * server that buffered during a short network blip can flush at once. At least 1,000, so that a
   * full request always fits in the bucket.
   */
  readonly burst: number;
}

export interface AuthConfig {
  /**
   * How long a verified API key is trusted without asking Postgres again: 4 s. A hot key costs one
   * query per 4 s instead of one per request, and a revoked key is refused by every gateway within
   * 5 s (the contract's bound; the margin covers a lookup in flight when the key was revoked). Not
   * an environment variable: the contract fixes the bound.
   */
  readonly trustedKeyTtlMs: number;
  /**
   * Failed authentications (no key, a malformed, unknown or revoked key) per client address:
   * `INGEST_AUTH_FAILURES_PER_SECOND`, default 5, and `INGEST_AUTH_FAILURE_BURST`, default 50.
   * Past them the address gets 429 without a database lookup until its bucket refills. A client
   * with a working key never fails, so the numbers only need to absorb a misconfigured server's
   * retries and many new game servers starting at once behind one NAT address; keys this gateway
   * has verified before are never held back. Behind a proxy every client shares the proxy's address.
   */
  readonly failures: RateLimitConfig;
}

export interface IngestConfig extends CommonConfig {
  /** `INGEST_PORT`, default 8080 (the contract's). 0 picks a free port. */
  readonly port: number;
  /** `INGEST_HOST`, default 0.0.0.0: game servers reach it from other machines. */
  readonly host: string;
  /** `INGEST_TOPIC`, default `jackpot.wagers.v1`. Only tests and benchmarks change it. */
  readonly topic: string;
  /** Where a claimed win's new pool state goes (the projectors read it). */
  readonly poolUpdatesTopic: string;
  /** Where awards go (the outbox relay). */
  readonly awardsTopic: string;
  readonly rateLimit: RateLimitConfig;
  /**
   * Claims (`POST /v1/wins`) per API key, a bucket of its own beside the wagers':
   * `INGEST_CLAIM_RATE_PER_SECOND`, default 10 claims a second sustained, and
   * `INGEST_CLAIM_RATE_BURST`, default 20. A claim pays a pool out, so a key that claims in a loop
   * (a bug, or a stolen key) must be stopped long before it drains pools; real wins are rare events
   * even for a server running many tables, and a burst of 20 covers a round of simultaneous hits.
   */
  readonly claimRateLimit: RateLimitConfig;
  readonly auth: AuthConfig;
  /** `INGEST_HTTP_*`: connection cap and timeouts (shared/src/http.ts). */
  readonly http: HttpLimits;
  /**
   * `INGEST_PRODUCER_LINGER_MS`, default 5: how long a wager waits in the producer for others to
   * share its produce request. Each request waits for its own acks anyway; under load a few ms
   * buys batches of hundreds.
   */
  readonly producerLingerMs: number;
  /**
   * `INGEST_KAFKA_RETRIES`, default 5 (about 10 s with backoff): how often a batch is retried
   * before the request fails with 503. More rides out longer broker hiccups and keeps game servers
   * waiting longer during a real outage.
   */
  readonly kafkaRetries: number;
  /**
   * `INGEST_MEMORY_BUDGET_MB`, default 256: live memory (V8 heap in use plus buffers, not the RSS;
   * shared/src/memory-budget.ts) the gateway aims to stay under. At 70 % it warns; from 85 %
   * `POST /v1/wagers` is answered 503 `overloaded` with Retry-After before its body is read, until
   * back under 80 % (claims are still served). See the README (Memory budget and backpressure) for
   * what it holds at rest and under load. Lower refuses sooner under a flood;
   * set it under the container's memory limit minus ~150 MB (code, memory not yet returned to the OS).
   */
  readonly memoryBudgetMb: number;
}

/** Validates the environment once; a bad value throws CONFIG_INVALID naming the variable. */
export function loadIngestConfig(env: Env): Readonly<IngestConfig> {
  return Object.freeze({
    ...commonConfig(env),
    port: int(env, 'INGEST_PORT', 8080, 0, 65535),
    host: str(env, 'INGEST_HOST', '0.0.0.0'),
    topic: topicName(env, 'INGEST_TOPIC', TOPICS.wagers),
    poolUpdatesTopic: topicName(env, 'POOL_UPDATES_TOPIC', TOPICS.poolUpdates),
    awardsTopic: topicName(env, 'AWARDS_TOPIC', TOPICS.awards),
    rateLimit: Object.freeze({
      perSecond: int(env, 'INGEST_RATE_LIMIT_PER_SECOND', 50_000, 1, 100_000_000),
      burst: int(env, 'INGEST_RATE_LIMIT_BURST', 100_000, MAX_WAGERS_PER_REQUEST, 1_000_000_000),
    }),
    claimRateLimit: Object.freeze({
      perSecond: int(env, 'INGEST_CLAIM_RATE_PER_SECOND', 10, 1, 1_000_000),
      burst: int(env, 'INGEST_CLAIM_RATE_BURST', 20, 1, 1_000_000),
    }),
    auth: Object.freeze({
      trustedKeyTtlMs: 4_000,
      failures: Object.freeze({
        perSecond: int(env, 'INGEST_AUTH_FAILURES_PER_SECOND', 5, 1, 1_000_000),
        burst: int(env, 'INGEST_AUTH_FAILURE_BURST', 50, 1, 1_000_000),
      }),
    }),
    http: httpLimits(env, 'INGEST'),
    producerLingerMs: int(env, 'INGEST_PRODUCER_LINGER_MS', 5, 0, 1000),
    kafkaRetries: int(env, 'INGEST_KAFKA_RETRIES', 5, 0, 100),
    memoryBudgetMb: memoryBudgetMb(env, 'INGEST', 256),
  });
}
