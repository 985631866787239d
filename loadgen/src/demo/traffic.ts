/**
 * The demo's traffic: wagers through Kafka (with re-sent duplicates, invalid events and the latency
 * probe) and, at the same time, a smaller stream through the HTTP gateway, both from `runLoad`;
 * the aggregators' backlog is sampled once a second while they run.
 */
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { pino } from 'pino';
import { TOPICS } from '../../../shared/src/kafka.js';
import type { GameShares } from '../jackpot-config.js';
import { runLoad, type LoadProgress, type LoadReport } from '../run.js';
import { consumerLag } from './checks.js';
import { storedOffsets } from './database.js';
import { progressText, type Out } from './report.js';
import { PROBE_TIMEOUT_MS, PROBE_WARMUP_MS, type DemoSettings } from './settings.js';

/** Runs both streams to their end (or `signal`); the runs' outcomes and the largest lag seen. */
export async function runTraffic(opts: {
  settings: DemoSettings;
  config: GameShares;
  gameKey: string;
  admin: Admin;
  db: pg.Pool;
  groupId: string;
  out: Out;
  signal: AbortSignal;
}): Promise<{ settled: PromiseSettledResult<LoadReport>[]; lagMax: bigint }> {
  const { settings, config, admin, db, groupId, out } = opts;
  const mark = performance.now();
  const logger = pino(
    { level: process.env['LOG_LEVEL'] ?? 'error', base: { service: 'demo' } },
    pino.destination(2),
  );
  let kafkaProgress: LoadProgress | null = null;
  let httpProgress: LoadProgress | null = null;
  const show = (): void =>
    out.progress(progressText((performance.now() - mark) / 1000, kafkaProgress, httpProgress, lagNow));
  // The aggregators' backlog during the load, once a second: it is what end-to-end latency is made of.
  let lagNow: bigint | null = null;
  let lagMax = 0n;
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void (async () => {
      try {
        const ends = await admin.fetchTopicOffsets(TOPICS.wagers);
        lagNow = consumerLag(ends, await storedOffsets(db, groupId, TOPICS.wagers));
        if (lagNow > lagMax) lagMax = lagNow;
      } catch {
        // a missed sample; the next one comes in a second
      } finally {
        sampling = false;
      }
    })();
  }, 1000);
  const runs: Promise<LoadReport>[] = [
    runLoad({
      via: 'kafka',
      rate: settings.kafkaRate,
      durationSeconds: settings.durationSeconds,
      dupRate: settings.dupRate,
      invalidRate: settings.invalidRate,
      probe: { timeoutMs: PROBE_TIMEOUT_MS, warmupMs: PROBE_WARMUP_MS },
      config,
      signal: opts.signal,
      logger,
      onProgress: (p) => {
        kafkaProgress = p;
        show();
      },
      onNotice: (m) => out.line(`   kafka: ${m}`),
    }),
  ];
  if (settings.httpRate > 0) {
    runs.push(
      runLoad({
        via: 'http',
        rate: settings.httpRate,
        durationSeconds: settings.durationSeconds,
        dupRate: settings.dupRate,
        apiKey: opts.gameKey,
        // ~10 wagers a request at 500/s with the 20 ms linger: many small requests, as game servers send.
        httpBatch: 100,
        concurrency: 4,
        // One probe in flight at a time, on the Kafka path: two would raise the probe pool together.
        probe: false,
        config,
        signal: opts.signal,
        logger,
        onProgress: (p) => {
          httpProgress = p;
          show();
        },
        onNotice: (m) => out.line(`   http: ${m}`),
      }),
    );
  }
  const settled = await Promise.allSettled(runs);
  clearInterval(sampler);
  return { settled, lagMax };
}
