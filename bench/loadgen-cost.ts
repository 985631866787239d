/**
 * What the load generator of `npm run bench` costs a message, alone: `runLoad` as a maximum step
 * calls it (4 producers of up to 2,000 wagers a request, at most 10,000 unacknowledged, the demo's
 * mix), to a throwaway 12-partition topic on the broker at KAFKA_BROKERS, no pipeline behind it.
 * CPU from `process.cpuUsage()` over the timed phase only (after any pre-generation).
 *
 *   node --max-semi-space-size=32 --import tsx bench/loadgen-cost.ts [--live] [--seconds 10]
 *     [--rate 200000] [--runs 2] [--profile DIR]
 *
 * `--live` makes the traffic while sending (the demo's path) instead of beforehand; `--profile`
 * writes a V8 CPU profile of each timed phase (open it in Chrome DevTools). Prints one JSON line a
 * run: messages, rate, CPU µs a message, acknowledgement latency, load average.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_KAFKA_BROKERS, list } from '../shared/src/config.js';
import { createKafka } from '../shared/src/kafka.js';
import { createTopic } from '../infra/topics.js';
import { demoJackpots } from '../loadgen/src/demo/configure.js';
import type { GameShares } from '../loadgen/src/jackpot-config.js';
import { runLoad } from '../loadgen/src/run.js';

const { values: args } = parseArgs({
  options: {
    live: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '2' },
    profile: { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const rate = Number(args.rate);

/** demo-eu's games and shares, as the bench's database has them (no database needed here). */
const config: GameShares = {
  games: demoJackpots()
    .filter((j) => j.jackpotId === 'demo-eu')
    .flatMap((j) =>
      j.games.map((gameId) => ({
        gameId,
        jackpotId: j.jackpotId,
        currency: j.currency,
        pools: j.pools.map((p) => ({
          poolId: `${j.jackpotId}:${p.tier}`,
          contributionPpm: p.contributionPpm,
          reservePpm: p.reservePpm ?? 0,
        })),
      })),
    ),
};

const brokers = list(process.env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);
const kafka = createKafka({ brokers, clientId: 'loadgen-cost' });
const admin = kafka.admin();
await admin.connect();
const topic = `bench-loadgen-cost.${Date.now()}`;
await createTopic(admin, { topic, partitions: 12, configs: {} });
const session = new Session();
session.connect();
try {
  for (let run = 0; run < Number(args.runs); run++) {
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    if (args.profile !== undefined) await session.post('Profiler.enable');
    const report = await runLoad({
      via: 'kafka',
      rate,
      durationSeconds: seconds,
      dupRate: 0.02,
      invalidRate: 0.005,
      seed: 1000 + run,
      concurrency: 4,
      producerMaxBatch: 2000,
      maxInFlight: 10_000,
      ...(args.live ? {} : { pregenerate: { maxEvents: Math.min(rate, 70_000) * seconds } }),
      probe: false,
      config,
      kafkaBrokers: brokers,
      topic,
      beforeStart: async () => {
        if (args.profile !== undefined) await session.post('Profiler.start');
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      },
      onNotice: (m) => process.stderr.write(`notice: ${m}\n`),
    });
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1000;
    if (args.profile !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(args.profile, `loadgen-cost-${run}.cpuprofile`), JSON.stringify(profile));
    }
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    process.stdout.write(
      `${JSON.stringify({
        mode: args.live ? 'live' : 'pregenerated',
        messages: report.sent,
        perS: report.achievedRate,
        wallSeconds: Math.round(wall * 100) / 100,
        cpuSeconds: Math.round(cpuSeconds * 100) / 100,
        cpuUsPerMessage: Math.round((cpuSeconds * 1e7) / report.sent) / 10,
        ackLatencyMs: report.ackLatencyMs,
        loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
      })}\n`,
    );
  }
} finally {
  session.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
