/**
 * `report`: a health and performance summary. Samples everything twice, `--interval` seconds
 * apart: every service's GET /metrics (the Prometheus text they serve), the wagers topic's end
 * offsets (Kafka) against the aggregators' stored positions (Postgres) for the lag, and
 * pg_stat_activity for lock waits; then names the current bottleneck with the numbers behind it
 * (the decision is bottleneck.ts, pure and unit-tested). Defaults are the stack's ports
 * (infra/stack.ts: aggregators from 8090, projector 8081, gateway 8080).
 *
 * Exit code 0 with a verdict, 1 when Kafka or Postgres cannot be read.
 */
import { commonConfig, str } from '../../../shared/src/config.js';
import { createPool } from '../../../shared/src/db.js';
import { toError } from '../../../shared/src/errors.js';
import { createKafka, TOPICS } from '../../../shared/src/kafka.js';
import { diagnose, type Figures, type Verdict } from './bottleneck.js';
import { intFlag, parseFlags } from './flags.js';
import { bucketDelta, buckets, parsePrometheus, quantile, sum, sumBy, type Sample } from './prometheus.js';

const DEFAULT_URLS = {
  aggregators: 'http://127.0.0.1:8090,http://127.0.0.1:8091',
  projector: 'http://127.0.0.1:8081',
  gateway: 'http://127.0.0.1:8080',
} as const;

const WAGERS_ROUTE = '/v1/wagers';

interface Scrape {
  readonly url: string;
  readonly samples: readonly Sample[] | null;
  readonly error?: string;
}

async function scrape(url: string): Promise<Scrape> {
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/metrics`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return { url, samples: null, error: `HTTP ${res.status}` };
    return { url, samples: parsePrometheus(await res.text()) };
  } catch (e) {
    return { url, samples: null, error: toError(e).message };
  }
}

/** The first of `names` the service exports (exporters differ on unit suffixes). */
function pick(
  samples: readonly Sample[],
  names: readonly string[],
  match: Record<string, string> = {},
): number | null {
  for (const n of names) {
    const v = sum(samples, n, match);
    if (v !== null) return v;
  }
  return null;
}

const BATCH_SUM = ['jackpot_aggregator_batch_duration_sum', 'jackpot_aggregator_batch_duration_seconds_sum'];
const PHASE_SUM = [
  'jackpot_aggregator_batch_phase_duration_sum',
  'jackpot_aggregator_batch_phase_duration_seconds_sum',
];
const CPU = ['process_cpu_time_total', 'process_cpu_seconds_total', 'process_cpu_time_seconds_total'];
const RSS = ['process_memory_usage', 'process_resident_memory_bytes', 'process_memory_usage_bytes'];
const PENDING = ['db_client_connections_pending_requests'];
const HTTP_DURATION = ['http_server_request_duration', 'http_server_request_duration_seconds'];

interface Sampled {
  readonly at: number;
  readonly aggregators: readonly Scrape[];
  readonly projector: Scrape;
  readonly gateway: Scrape;
  /** partition → [end offset, stored position]. */
  readonly offsets: ReadonlyMap<number, readonly [bigint, bigint | null]>;
  readonly lockWaits: number;
  /** Seconds the aggregators' oldest open transaction has been open (0 when none is). */
  readonly longestWindowS: number;
}

export async function report(args: readonly string[]): Promise<number> {
  const flags = parseFlags(
    args,
    ['aggregator', 'projector', 'gateway', 'group', 'topic', 'interval'],
    ['json'],
  );
  const env = process.env;
  const aggregatorUrls = (
    flags.get('aggregator') ?? str(env, 'REPORT_AGGREGATOR_URLS', DEFAULT_URLS.aggregators)
  )
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const projectorUrl = flags.get('projector') ?? str(env, 'REPORT_PROJECTOR_URL', DEFAULT_URLS.projector);
  const gatewayUrl = flags.get('gateway') ?? str(env, 'REPORT_GATEWAY_URL', DEFAULT_URLS.gateway);
  const groupId = flags.get('group') ?? str(env, 'AGGREGATOR_GROUP_ID', 'jackpot-aggregator');
  const topic = flags.get('topic') ?? str(env, 'AGGREGATOR_TOPIC', TOPICS.wagers);
  const intervalS = flags.has('interval') ? intFlag('interval', flags.get('interval') ?? '', 1, 600) : 5;

  const config = commonConfig(env);
  const pool = createPool(config.databaseUrl, { max: 1, applicationName: 'jackpot-cli-report' });
  const admin = createKafka({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    clientId: 'jackpot-cli-report',
    retries: 2,
  }).admin();
  try {
    await admin.connect();
    const sample = async (): Promise<Sampled> => {
      const [aggregators, projector, gateway, ends, stored, locks] = await Promise.all([
        Promise.all(aggregatorUrls.map(scrape)),
        scrape(projectorUrl),
        scrape(gatewayUrl),
        admin.fetchTopicOffsets(topic),
        pool.query<{ partition: number; next_offset: string }>({
          text: 'SELECT partition, next_offset::text FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
          values: [groupId, topic],
        }),
        pool.query<{ n: string; longest: number | null }>(
          `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::text AS n,
                  coalesce(extract(epoch FROM max(now() - xact_start) FILTER (WHERE application_name = 'jackpot-aggregator')), 0)::float8 AS longest
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        ),
      ]);
      const positions = new Map(stored.rows.map((r) => [r.partition, BigInt(r.next_offset)]));
      return {
        at: Date.now(),
        aggregators,
        projector,
        gateway,
        offsets: new Map(
          ends.map((o) => [o.partition, [BigInt(o.high), positions.get(o.partition) ?? null] as const]),
        ),
        lockWaits: Number(locks.rows[0]?.n ?? 0),
        longestWindowS: locks.rows[0]?.longest ?? 0,
      };
    };
    if (!flags.has('json')) process.stderr.write(`sampling for ${intervalS} s…\n`);
    const first = await sample();
    await new Promise((r) => setTimeout(r, intervalS * 1000));
    const second = await sample();
    const figures = figuresOf(first, second);
    const verdict = diagnose(figures);
    if (flags.has('json')) {
      process.stdout.write(
        `${JSON.stringify({ groupId, topic, figures, services: services(second), verdict }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(render(groupId, topic, figures, second, verdict));
    }
    return 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
    await pool.end();
  }
}

function lagOf(s: Sampled): { lag: number; end: bigint; stored: bigint } {
  let lag = 0n;
  let end = 0n;
  let stored = 0n;
  for (const [high, pos] of s.offsets.values()) {
    end += high;
    // A partition never consumed counts from 0: an upper bound (the topic may have been trimmed).
    const p = pos ?? 0n;
    stored += p;
    if (high > p) lag += high - p;
  }
  return { lag: Number(lag), end, stored };
}

/** The figures bottleneck.ts decides on, from two samples. */
function figuresOf(a: Sampled, b: Sampled): Figures {
  const dt = Math.max(0.001, (b.at - a.at) / 1000);
  const la = lagOf(a);
  const lb = lagOf(b);
  let windowBusy: number | null = null;
  let cpu: number | null = null;
  let pending: number | null = null;
  const phaseSeconds: Record<string, number> = {};
  let up = 0;
  b.aggregators.forEach((after, i) => {
    const before = a.aggregators[i];
    if (after.samples === null) return;
    up++;
    const prev = before?.samples ?? null;
    const busyAfter = pick(after.samples, BATCH_SUM);
    const busyBefore = prev === null ? null : pick(prev, BATCH_SUM);
    if (busyAfter !== null && busyBefore !== null)
      windowBusy = Math.max(windowBusy ?? 0, Math.min(1, (busyAfter - busyBefore) / dt));
    const cpuAfter = pick(after.samples, CPU);
    const cpuBefore = prev === null ? null : pick(prev, CPU);
    if (cpuAfter !== null && cpuBefore !== null) cpu = Math.max(cpu ?? 0, (cpuAfter - cpuBefore) / dt);
    const p = pick(after.samples, PENDING);
    if (p !== null) pending = (pending ?? 0) + p;
    const name = PHASE_SUM.find((n) => after.samples?.some((s) => s.name === n));
    if (name !== undefined && prev !== null) {
      const pa = sumBy(after.samples, name, 'phase');
      const pb = sumBy(prev, name, 'phase');
      for (const [phase, s] of pa)
        phaseSeconds[phase] = (phaseSeconds[phase] ?? 0) + s - (pb.get(phase) ?? 0);
    }
  });
  let p95: number | null = null;
  let rps: number | null = null;
  let r503: number | null = null;
  let bufferFull: number | null = null;
  if (a.gateway.samples !== null && b.gateway.samples !== null) {
    const gs = b.gateway.samples;
    const name = HTTP_DURATION.find((n) => gs.some((s) => s.name === `${n}_bucket`));
    if (name !== undefined) {
      const delta = bucketDelta(
        buckets(a.gateway.samples, name, { http_route: WAGERS_ROUTE }),
        buckets(gs, name, { http_route: WAGERS_ROUTE }),
      );
      const q = quantile(0.95, delta);
      p95 = q === null ? null : q * 1000;
      rps = (delta.get(Infinity) ?? 0) / dt;
    }
    const d = (n: string, m: Record<string, string>): number =>
      ((sum(gs, n, m) ?? 0) - (sum(a.gateway.samples ?? [], n, m) ?? 0)) / dt;
    r503 = d('ingest_http_requests_total', { http_response_status_code: '503' });
    bufferFull = d('ingest_wagers_overloaded_total', { cause: 'producer_buffer' });
  }
  return {
    intervalS: Math.round(dt * 10) / 10,
    lagStart: la.lag,
    lagEnd: lb.lag,
    producedPerS: Number(lb.end - la.end) / dt,
    appliedPerS: Number(lb.stored - la.stored) / dt,
    aggregatorsUp: up,
    aggregatorsExpected: b.aggregators.length,
    windowBusy,
    phaseSeconds,
    aggregatorCpuCores: cpu,
    dbPoolPending: pending,
    pgLockWaits: b.lockWaits,
    pgLongestWindowS: Math.round(b.longestWindowS * 10) / 10,
    gatewayP95Ms: p95,
    gatewayRequestsPerS: rps,
    gateway503PerS: r503,
    gatewayKafkaBufferFullPerS: bufferFull,
  };
}

interface ServiceLine {
  readonly service: string;
  readonly url: string;
  readonly up: boolean;
  readonly error?: string;
  readonly rssMb: number | null;
  readonly heapUsedMb: number | null;
  readonly eventLoopP99Ms: number | null;
}

function services(s: Sampled): ServiceLine[] {
  const line = (service: string, x: Scrape): ServiceLine => {
    const mb = (v: number | null) => (v === null ? null : Math.round(v / 1e5) / 10);
    const loop =
      x.samples === null
        ? null
        : pick(x.samples, ['nodejs_eventloop_delay_p99', 'nodejs_eventloop_delay_p99_seconds']);
    return {
      service,
      url: x.url,
      up: x.samples !== null,
      ...(x.error === undefined ? {} : { error: x.error }),
      rssMb: x.samples === null ? null : mb(pick(x.samples, RSS)),
      heapUsedMb:
        x.samples === null
          ? null
          : mb(pick(x.samples, ['v8js_memory_heap_used', 'v8js_memory_heap_used_bytes'])),
      eventLoopP99Ms: loop === null ? null : Math.round(loop * 1e4) / 10,
    };
  };
  return [
    ...s.aggregators.map((x, i) => line(`aggregator-${i + 1}`, x)),
    line('projector', s.projector),
    line('gateway', s.gateway),
  ];
}

function render(groupId: string, topic: string, f: Figures, s: Sampled, v: Verdict): string {
  const out: string[] = [
    `jackpot report: group ${groupId} on ${topic}, ${f.intervalS} s sampled`,
    '',
    'services:',
  ];
  for (const x of services(s)) {
    if (!x.up) {
      out.push(`  ${x.service.padEnd(13)} DOWN  ${x.url} (${x.error ?? 'no answer'})`);
      continue;
    }
    const parts = [
      x.rssMb === null ? null : `rss ${x.rssMb} MB`,
      x.heapUsedMb === null ? null : `heap ${x.heapUsedMb} MB`,
      x.eventLoopP99Ms === null ? null : `event loop p99 ${x.eventLoopP99Ms} ms`,
    ].filter((p) => p !== null);
    out.push(`  ${x.service.padEnd(13)} up    ${x.url}${parts.length > 0 ? `  ${parts.join(', ')}` : ''}`);
  }
  const n = (x: number | null, digits = 0, unit = '') => (x === null ? 'n/a' : `${x.toFixed(digits)}${unit}`);
  const phases = Object.entries(f.phaseSeconds)
    .filter(([, sec]) => sec > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([p, sec]) => `${p} ${sec.toFixed(2)} s`)
    .join(', ');
  out.push(
    '',
    'pipeline:',
    `  wagers in            ${n(f.producedPerS)}/s`,
    `  wagers applied       ${n(f.appliedPerS)}/s`,
    `  lag                  ${f.lagStart ?? 'n/a'} → ${f.lagEnd ?? 'n/a'}`,
    `  windows busy         ${f.windowBusy === null ? 'n/a' : `${(f.windowBusy * 100).toFixed(0)} %`} (busiest replica)`,
    `  window phases        ${phases || 'n/a'}`,
    `  aggregator CPU       ${n(f.aggregatorCpuCores, 2, ' cores')} (busiest replica)`,
    `  db pool waiting      ${n(f.dbPoolPending)}`,
    `  postgres lock waits  ${n(f.pgLockWaits)}`,
    `  longest window open  ${n(f.pgLongestWindowS, 1, ' s')}`,
    `  gateway wagers p95   ${n(f.gatewayP95Ms, 1, ' ms')} at ${n(f.gatewayRequestsPerS)} requests/s`,
    '',
    `bottleneck: ${v.bottleneck}`,
    ...v.because.map((b) => `  - ${b}`),
    ...(v.notes.length > 0 ? ['notes:', ...v.notes.map((x) => `  - ${x}`)] : []),
    '',
  );
  return out.join('\n');
}
