/**
 * The load generator's command line, a thin shell over `runLoad` (run.ts):
 *
 *   npm run loadgen -- --via kafka|http --rate 5000 --duration 60 [--games 50] [--players 100000]
 *     [--dup-rate 0.02] [--invalid-rate 0] [--seed 42] [--event-ids v7|v4] [--api-key KEY] [--record out.json]
 *     [--http-batch 500] [--concurrency 8] [--no-probe] [--json]
 *
 * Progress goes to stderr (one rewritten line on a terminal, a line every 5 s otherwise), the
 * summary to stdout. Exit 0 when every event was acknowledged, 1 when some were not, 2 on a usage
 * or configuration error. Ctrl-C stops sending and still drains and reports; a second one quits.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AppError, toError } from '../../shared/src/errors.js';
import { runLoad, type LoadOptions, type LoadProgress, type LoadReport, type ProbeSettings } from './run.js';

const USAGE = `Usage: npm run loadgen -- --via kafka|http --rate N --duration S [options]

  --via kafka|http        path into the pipeline (default kafka)
  --rate N                events a second (default 5000)
  --duration S            seconds of sending (default 60)
  --games N               use at most N configured games (default all)
  --players N             distinct players (default 100000)
  --dup-rate X            share of re-sent wagers, 0..1 (default 0.02)
  --invalid-rate X        share of invalid events, Kafka only (default 0)
  --seed N                PRNG seed (default random; with --event-ids v4 the same seed twice sends the same eventIds)
  --event-ids v7|v4       time-ordered UUIDv7 event ids, as game servers should send (default), or random v4
  --api-key KEY           game API key for --via http (or LOADGEN_API_KEY)
  --http-batch N          wagers a request, 1..1000 (default 500)
  --concurrency N         gateway requests in flight (http, default 8) or producers (kafka, default 1)
  --max-in-flight N       unacknowledged events at most (default max(1000, rate))
  --record PATH           write options, configuration and report as JSON
  --no-probe              do not measure end-to-end latency
  --probe-game ID         probe game (default probe-game)
  --probe-pool ID         probe pool (default probe:main)
  --probe-timeout MS      a probe not visible after this long times out (default 10000)
  --topic NAME            Kafka topic (default jackpot.wagers.v1)
  --json                  print the report as JSON instead of a summary
  -h, --help
Environment: KAFKA_BROKERS, DATABASE_URL, INGEST_PORT, PROJECTOR_PORT.`;

class UsageError extends Error {}

/** `o` without its undefined properties: with exactOptionalPropertyTypes an option is absent, never undefined. */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function num(
  name: string,
  value: string | undefined,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok =
    value.trim() !== '' &&
    Number.isFinite(n) &&
    (opts.integer !== true || Number.isSafeInteger(n)) &&
    (opts.min === undefined || n >= opts.min) &&
    (opts.max === undefined || n <= opts.max);
  if (!ok) {
    const range = `${opts.min ?? '-∞'}..${opts.max ?? '∞'}`;
    throw new UsageError(
      `--${name} ${JSON.stringify(value)} is invalid: expected ${opts.integer === true ? 'an integer' : 'a number'} in ${range}`,
    );
  }
  return n;
}

function parse(argv: string[]): { options: LoadOptions; json: boolean } | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      via: { type: 'string', default: 'kafka' },
      rate: { type: 'string', default: '5000' },
      duration: { type: 'string', default: '60' },
      games: { type: 'string' },
      players: { type: 'string' },
      'dup-rate': { type: 'string' },
      'invalid-rate': { type: 'string' },
      seed: { type: 'string' },
      'event-ids': { type: 'string', default: 'v7' },
      'api-key': { type: 'string' },
      'http-batch': { type: 'string' },
      concurrency: { type: 'string' },
      'max-in-flight': { type: 'string' },
      record: { type: 'string' },
      'no-probe': { type: 'boolean', default: false },
      'probe-game': { type: 'string' },
      'probe-pool': { type: 'string' },
      'probe-timeout': { type: 'string' },
      topic: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  if (values.via !== 'kafka' && values.via !== 'http')
    throw new UsageError(`--via must be kafka or http, got ${JSON.stringify(values.via)}`);

  const via: LoadOptions['via'] = values.via;
  const eventIds = values['event-ids'];
  if (eventIds !== 'v7' && eventIds !== 'v4')
    throw new UsageError(`--event-ids must be v7 or v4, got ${JSON.stringify(eventIds)}`);
  const apiKey = values['api-key'] ?? process.env['LOADGEN_API_KEY'];
  const probeTimeout = num('probe-timeout', values['probe-timeout'], { integer: true, min: 1 });
  const options = defined<LoadOptions>({
    via,
    rate: num('rate', values.rate, { min: 0.001, max: 10_000_000 }),
    durationSeconds: num('duration', values.duration, { min: 0.001 }),
    games: num('games', values.games, { integer: true, min: 1 }),
    players: num('players', values.players, { integer: true, min: 1, max: 100_000_000 }),
    dupRate: num('dup-rate', values['dup-rate'], { min: 0, max: 1 }),
    invalidRate: num('invalid-rate', values['invalid-rate'], { min: 0, max: 1 }),
    seed: num('seed', values.seed, { integer: true, min: 0 }),
    eventIds,
    apiKey: apiKey === '' ? undefined : apiKey,
    httpBatch: num('http-batch', values['http-batch'], { integer: true, min: 1, max: 1000 }),
    concurrency: num('concurrency', values.concurrency, { integer: true, min: 1, max: 1024 }),
    maxInFlight: num('max-in-flight', values['max-in-flight'], { integer: true, min: 1 }),
    recordPath: values.record,
    topic: values.topic,
    probe: values['no-probe']
      ? false
      : defined<ProbeSettings>({
          gameId: values['probe-game'],
          poolId: values['probe-pool'],
          timeoutMs: probeTimeout,
        }),
  });
  return { options, json: values.json };
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

function progressLine(p: LoadProgress): string {
  const probe =
    p.probe === null ? '' : ` | e2e n=${p.probe.count} p50 ${fmt(p.probe.p50)} p99 ${fmt(p.probe.p99)} ms`;
  return (
    `${fmt(p.elapsedSeconds)}s sent ${p.sent} (${Math.round(p.rate)}/s) acked ${p.acked} errors ${p.errors} ` +
    `in-flight ${p.inFlight} | ack p50 ${fmt(p.ackLatencyMs.p50)} p99 ${fmt(p.ackLatencyMs.p99)} ms${probe}`
  );
}

function summary(r: LoadReport): string {
  const lines = [
    `via ${r.via}, seed ${r.seed}, ${r.games} games, target ${r.targetRate}/s for ${r.targetDurationSeconds} s`,
    `sent ${r.sent} in ${fmt(r.sendSeconds, 2)} s = ${fmt(r.achievedRate)}/s; acked ${r.acked} (${fmt(r.ackedRate)}/s over ${fmt(r.elapsedSeconds, 2)} s); errors ${r.errors}${
      r.errors > 0 ? ` ${JSON.stringify(r.errorsByCode)}` : ''
    }; retries ${r.retries}; throttled ${r.throttled}`,
    `distinct ${r.distinct}, duplicates ${r.duplicates}, probes ${r.probes}, invalid ${JSON.stringify(r.invalid)}, unconfirmed ${r.unconfirmed}`,
    `ack latency ms: p50 ${r.ackLatencyMs.p50} p90 ${r.ackLatencyMs.p90} p99 ${r.ackLatencyMs.p99} max ${r.ackLatencyMs.max}`,
    r.probe.latencyMs === null
      ? `end-to-end latency: not measured${r.probe.note === null ? '' : ` (${r.probe.note})`}`
      : `end-to-end latency ms (${r.probe.visible} probes, ${r.probe.timeouts} timeouts): p50 ${r.probe.latencyMs.p50} p90 ${r.probe.latencyMs.p90} p99 ${r.probe.latencyMs.p99} max ${r.probe.latencyMs.max}` +
        (r.probe.note === null ? '' : `\n  note: ${r.probe.note}`),
    'expected contribution per pool (micro-units):',
    ...Object.entries(r.expected.pools).map(
      ([id, p]) =>
        `  ${id.padEnd(28)} wagers ${String(p.wagers).padStart(9)}  contribution ${p.contributionMicro}  reserve ${p.reserveMicro}`,
    ),
    `expected dead letters: ${JSON.stringify(r.expected.deadLetters)}${r.expected.unconfirmedInvalid > 0 ? ` (+ up to ${r.expected.unconfirmedInvalid} unconfirmed)` : ''}`,
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`loadgen: ${toError(e).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const abort = new AbortController();
  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nloadgen: stopping; draining what was sent (Ctrl-C again to quit at once)\n');
    abort.abort();
  });

  const tty = process.stderr.isTTY;
  let lastLineAt = 0;
  const onProgress = (p: LoadProgress): void => {
    if (tty) {
      process.stderr.write(`\r\x1b[K${progressLine(p)}`);
    } else if (p.elapsedSeconds - lastLineAt >= 5) {
      lastLineAt = p.elapsedSeconds;
      process.stderr.write(`${progressLine(p)}\n`);
    }
  };
  const onNotice = (message: string): void => {
    process.stderr.write(`${tty ? '\r\x1b[K' : ''}loadgen: ${message}\n`);
  };
  // kafkajs and producer errors, as JSON lines on stderr so they never mix with the report.
  // `error` by default: kafkajs' start-up warnings (partitioner, idempotent retries) are about the
  // shared producer's settings, not something a load-test user can act on. LOG_LEVEL=warn shows them.
  const logger = pino(
    { level: process.env['LOG_LEVEL'] ?? 'error', base: { service: 'loadgen' } },
    pino.destination(2),
  );

  const report = await runLoad({ ...parsed.options, signal: abort.signal, onProgress, onNotice, logger });
  if (tty) process.stderr.write('\n');
  process.stdout.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report)}\n`);
  if (parsed.options.recordPath !== undefined)
    process.stderr.write(`loadgen: record written to ${parsed.options.recordPath}\n`);
  if (report.errors > 0 || report.unconfirmed > 0) {
    process.stderr.write(
      `loadgen: ${report.errors} events were not acknowledged; the expectation is a lower bound\n`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = toError(e);
    process.stderr.write(`\nloadgen: ${err.message}\n`);
    process.exit(err instanceof AppError && err.code === 'CONFIG_INVALID' ? 2 : 1);
  },
);
