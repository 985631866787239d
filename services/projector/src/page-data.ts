/**
 * What the live page reads besides the pools: the recent wins and the throughput charts. Neither
 * costs a query per request: wins are read at most once per `WINS_TTL_MS` whatever the number of
 * displays polling them, and the charts come from a sampler that reads the counters on its own
 * timer and keeps the answer ready as bytes.
 */
import type { Admin, Kafka } from 'kafkajs';
import { toError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { CacheTier } from './cache.js';
import { cacheKeys } from './cache-policy.js';
import type { ExecuteSql } from './postgres-source.js';
import { selectCounters, type CountersRow } from './sql/select-counters.js';
import { selectRecentWins, type RecentWinRow } from './sql/select-recent-wins.js';
import { summarizeThroughput, type CounterSample } from './throughput.js';

/** Wins shown: a screen's worth. */
const RECENT_WINS_LIMIT = 20;
/**
 * 2 s: the page polls every 2 s, and a win a couple of seconds late on a display is fine. A win
 * (a pool's cycle moving) also makes it expire within the warm tier's settle time.
 */
const WINS_TTL_MS = 2_000;
/** 5 s between samples: a 15 s bucket holds three; one query over a few dozen rows each time. */
const SAMPLE_MS = 5_000;
const BUCKET_MS = 15_000;
/** 15 minutes of chart, the span a glance at a display or an analyst's check needs. */
const WINDOW_MS = 15 * 60_000;

export interface PageDataOptions {
  readonly executeSql: ExecuteSql;
  readonly kafka: Kafka;
  /** The aggregators' consumer group and the wager topic they read: the lag is theirs. */
  readonly aggregatorGroupId: string;
  readonly wagerTopic: string;
  readonly logger: Logger;
  /** The warm cache tier, where the recent wins are kept. */
  readonly cache: CacheTier;
}

export interface PageData {
  /** `GET /v1/wins/recent`'s body (a JSON array), at most WINS_TTL_MS old. */
  recentWinsJson(): Promise<Buffer>;
  /** `GET /v1/stats/throughput`'s body. */
  throughputJson(): Buffer;
  /** Starts the sampler (one sample at once). */
  start(): void;
  stop(): Promise<void>;
}

/** Hand-written like poolJson: the amount goes out as an exact JSON number. No player id. */
function winJson(r: RecentWinRow): string {
  return (
    `{"winId":${JSON.stringify(r.win_id)},"poolId":${JSON.stringify(r.pool_id)},"jackpotId":${JSON.stringify(r.jackpot_id)},` +
    `"tier":${JSON.stringify(r.tier)},"currency":${JSON.stringify(r.currency)},"cycle":${r.cycle},` +
    `"amountMinor":${BigInt(r.amount_minor).toString()},"kind":${JSON.stringify(r.kind)},` +
    `"gameId":${JSON.stringify(r.game_id)},"wonAt":${JSON.stringify(r.won_at)}}`
  );
}

function toSample(rows: readonly CountersRow[], atMs: number, topicEnd: bigint | null): CounterSample {
  const perJackpot = new Map<string, bigint>();
  const contributionMicro = new Map<string, bigint>();
  for (const r of rows) {
    const wagers = BigInt(r.wagers_total);
    if (wagers > (perJackpot.get(r.jackpot_id) ?? -1n)) perJackpot.set(r.jackpot_id, wagers);
    contributionMicro.set(r.pool_id, BigInt(r.contribution_micro_total));
  }
  let wagersApplied = 0n;
  for (const w of perJackpot.values()) wagersApplied += w;
  const positions = rows[0]?.positions;
  const lag = topicEnd === null ? null : topicEnd - (positions == null ? 0n : BigInt(positions));
  return { atMs, wagersApplied, contributionMicro, lagMessages: lag === null || lag < 0n ? null : lag };
}

export function createPageData(opts: PageDataOptions): PageData {
  const log = opts.logger.child({ component: 'page-data' });
  const samples: CounterSample[] = [];
  let throughput = Buffer.from(
    JSON.stringify(summarizeThroughput([], Date.now(), { bucketMs: BUCKET_MS, windowMs: WINDOW_MS })),
  );
  let admin: Admin | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  /** The sum of the wager topic's partition ends; null when the broker cannot say (logged once a minute at most). */
  let lastKafkaWarning = 0;
  const topicEnd = async (): Promise<bigint | null> => {
    try {
      if (admin === null) {
        // One retry: a broker that does not answer costs the chart a lag point, not the sampler its
        // 5 s rhythm (or the shutdown a long wait).
        const a = opts.kafka.admin({ retry: { retries: 1 } });
        await a.connect();
        admin = a;
      }
      const offsets = await admin.fetchTopicOffsets(opts.wagerTopic);
      return offsets.reduce((sum, o) => sum + BigInt(o.high), 0n);
    } catch (e) {
      if (Date.now() - lastKafkaWarning > 60_000) {
        lastKafkaWarning = Date.now();
        log.warn(
          { err: toError(e), topic: opts.wagerTopic },
          'cannot read the wager topic offsets; lag shown as unknown',
        );
      }
      const a = admin;
      admin = null;
      await a?.disconnect().catch(() => undefined);
      return null;
    }
  };

  const sampleOnce = async (): Promise<void> => {
    try {
      // Positions first, then the topic's end: the end only grows, so the lag is never understated
      // by a window committed between the two reads.
      const rows = await opts.executeSql<CountersRow>(
        selectCounters(opts.aggregatorGroupId, opts.wagerTopic),
      );
      const end = await topicEnd();
      const now = Date.now();
      samples.push(toSample(rows, now, end));
      while (samples.length > 0 && samples[0]!.atMs < now - WINDOW_MS - BUCKET_MS) samples.shift();
      throughput = Buffer.from(
        JSON.stringify(summarizeThroughput(samples, now, { bucketMs: BUCKET_MS, windowMs: WINDOW_MS })),
      );
    } catch (e) {
      log.warn({ err: toError(e) }, 'throughput sample failed; the chart shows a gap');
    }
  };

  const tick = (): void => {
    if (stopped) return;
    running = sampleOnce().finally(() => {
      running = null;
      if (!stopped) {
        timer = setTimeout(tick, SAMPLE_MS);
        timer.unref();
      }
    });
  };

  return {
    recentWinsJson() {
      // Displays asking while a read runs share it; a failed read is not kept.
      return opts.cache.getOrLoad(
        cacheKeys.recentWins,
        () =>
          opts
            .executeSql<RecentWinRow>(selectRecentWins(RECENT_WINS_LIMIT))
            .then((rows) => Buffer.from(`[${rows.map(winJson).join(',')}]`, 'utf8')),
        WINS_TTL_MS,
      );
    },
    throughputJson: () => throughput,
    start() {
      if (timer === null && running === null) tick();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running;
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
