/**
 * What the demo prints: number and money text, aligned tables, the progress line, and the summary
 * at the end with its verdict (the list of problems; none means everything reconciled).
 */
import { cpus } from 'node:os';
import type { CommonConfig } from '../../../shared/src/config.js';
import { microToString } from '../../../shared/src/domain/contribution.js';
import type { Percentiles } from '../histogram.js';
import type { LoadProgress, LoadReport } from '../run.js';
import type { DeadLetterCheck, PoolCheck, Snapshot } from './checks.js';
import type { ProjectorPool } from './http.js';
import { PROBE_TIMEOUT_MS, PROBE_WARMUP_MS, type DemoSettings } from './settings.js';

/** 1234567 → "1,234,567". */
export function group(n: bigint | number): string {
  const s = typeof n === 'number' ? String(Math.round(n)) : n.toString();
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  return `${neg ? '-' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}

/** Micro-units as minor units, exact, grouped: 1234567890n → "1,234.567890". */
export function microText(micro: bigint): string {
  const [whole, fraction] = microToString(micro).split('.');
  return `${group(BigInt(whole ?? '0'))}.${fraction ?? '000000'}`;
}

/** Minor units of a two-decimal currency such as EUR as major units: 123456n → "1,234.56". */
export function moneyText(minor: bigint): string {
  const neg = minor < 0n;
  const abs = neg ? -minor : minor;
  return `${neg ? '-' : ''}${group(abs / 100n)}.${(abs % 100n).toString().padStart(2, '0')}`;
}

const ms = (x: number): string => x.toFixed(1);

/** The roadmap's end-to-end target at the demo's default 5,000 wagers/s (README, Benchmarks). */
const LATENCY_TARGET_MS = 250;

/** An aligned plain-text table: text columns left, numbers right (`align` per column). */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: string,
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/**
 * `npm run reconcile`'s verdict for the summary: its last line, and its first `maxFindings`
 * MISMATCH lines when there are any (the full table is one command away).
 */
export function reconcileSummary(text: string, maxFindings: number): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const findings = lines.filter((l) => l.startsWith('MISMATCH'));
  const verdictLine = lines.at(-1) ?? '(no output)';
  return [
    ...findings.slice(0, maxFindings),
    ...(findings.length > maxFindings
      ? [`… ${findings.length - maxFindings} more: npm run reconcile shows them all`]
      : []),
    verdictLine.trim(),
  ];
}

export const seconds = (startMs: number): string => `${((performance.now() - startMs) / 1000).toFixed(1)} s`;

export interface Out {
  line(s?: string): void;
  /** A line that replaces itself on a terminal, and shows every `everyMs` otherwise. */
  progress(s: string, everyMs?: number): void;
  /** Ends a progress line. */
  done(): void;
}

export function createOut(): Out {
  const tty = process.stdout.isTTY;
  let open = false;
  let lastShown = 0;
  return {
    line(s = '') {
      if (open) process.stdout.write('\r\x1b[K');
      open = false;
      process.stdout.write(`${s}\n`);
    },
    progress(s, everyMs = 5000) {
      if (tty) {
        process.stdout.write(`\r\x1b[K${s}`);
        open = true;
      } else if (performance.now() - lastShown >= everyMs) {
        lastShown = performance.now();
        process.stdout.write(`${s}\n`);
      }
    },
    done() {
      if (open) process.stdout.write('\n');
      open = false;
      lastShown = 0;
    },
  };
}

export function progressText(
  elapsed: number,
  kafka: LoadProgress | null,
  http: LoadProgress | null,
  lag: bigint | null,
): string {
  const part = (name: string, p: LoadProgress | null): string =>
    p === null ? '' : `${name} ${group(p.sent)} sent ${group(p.rate)}/s ack p99 ${ms(p.ackLatencyMs.p99)} ms`;
  const probe = kafka?.probe;
  return [
    `load ${elapsed.toFixed(0)} s`,
    part('kafka', kafka),
    part('http', http),
    lag === null ? '' : `aggregator lag ${group(lag)}`,
    probe === null || probe === undefined || probe.count === 0
      ? ''
      : `e2e p50 ${ms(probe.p50)} p99 ${ms(probe.p99)} ms (n=${probe.count})`,
  ]
    .filter((s) => s !== '')
    .join(' | ');
}

function percentilesRow(label: string, n: number, p: Percentiles | null): string[] {
  return p === null
    ? [label, group(n), '-', '-', '-', '-']
    : [label, group(n), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max)];
}

/** Everything the summary reports, gathered by `main` once the checks are done. */
export interface SummaryInput {
  readonly settings: DemoSettings;
  readonly common: Pick<CommonConfig, 'kafkaBrokers' | 'databaseUrl'>;
  readonly projectorUrl: string;
  readonly loadAborted: boolean;
  readonly reports: readonly LoadReport[];
  readonly failures: number;
  readonly applied: { readonly count: number; readonly first: Date | null; readonly last: Date | null };
  readonly expectedDistinct: number;
  readonly lagMax: bigint;
  readonly lag: bigint;
  /** How long after the load the aggregators caught up (or were given up on), as text. */
  readonly catchUp: string;
  readonly before: Snapshot;
  readonly after: Snapshot;
  /** Postgres when the projector was last compared with it. */
  readonly dbNow: Snapshot;
  readonly projector: ReadonlyMap<string, ProjectorPool>;
  readonly projectorNote: string;
  readonly poolChecks: readonly PoolCheck[];
  readonly deadChecks: readonly DeadLetterCheck[];
  readonly exact: boolean;
  readonly unconfirmed: number;
  readonly reconcileText: string;
  readonly reconcileCode: number;
  readonly timings: readonly (readonly [string, string])[];
}

/** The summary's lines, and the problems found (none: everything reconciles). */
export function summary(input: SummaryInput): { lines: string[]; problems: string[] } {
  const { settings, common, projectorUrl, reports, applied, expectedDistinct, lagMax, lag, catchUp } = input;
  const { before, after, dbNow, projector, projectorNote, poolChecks, deadChecks, exact, unconfirmed } =
    input;
  const { reconcileText, reconcileCode, timings } = input;
  const kafkaReport = reports.find((r) => r.via === 'kafka') ?? null;
  const httpReport = reports.find((r) => r.via === 'http') ?? null;
  const lines: string[] = [];
  const add = (...ls: string[]): void => {
    lines.push(...ls);
  };
  add('', '======================================== summary ========================================');
  add(
    `measured on this machine: ${cpus().length} cores, Node ${process.version}, Kafka ${common.kafkaBrokers.join(',')} and`,
    `Postgres ${new URL(common.databaseUrl).host} beside ${settings.aggregatorReplicas} aggregators, the projector, the gateway and the generator`,
  );
  add(
    `settings: ${settings.durationSeconds} s; Kafka ${group(settings.kafkaRate)}/s (dup ${settings.dupRate}, invalid ${settings.invalidRate}, probe on)` +
      (settings.httpRate > 0
        ? `; HTTP ${group(settings.httpRate)}/s (dup ${settings.dupRate})`
        : '; HTTP off') +
      `; seeds ${reports.map((r) => `${r.via} ${r.seed}`).join(', ')}`,
    '(DEMO_RATE, DEMO_HTTP_RATE, DEMO_DURATION_SECONDS change these; npm run bench measures the maximum)',
  );
  if (input.loadAborted)
    add('INTERRUPTED: the load was stopped early with Ctrl-C; figures cover what was sent');

  add('', 'throughput');
  add(
    ...formatTable(
      ['path', 'target/s', 'sent', 'acked', 'errors', 'dups', 'invalid', 'distinct', 'sent/s', 'acked/s'],
      reports.map((r) => [
        r.via === 'kafka' ? 'Kafka (acks=all)' : 'HTTP gateway (202)',
        group(r.targetRate),
        group(r.sent),
        group(r.acked),
        group(r.errors),
        group(r.duplicates),
        group(Object.values(r.invalid).reduce((s, n) => s + (n ?? 0), 0)),
        group(r.distinct),
        group(r.achievedRate),
        group(r.ackedRate),
      ]),
      'lrrrrrrrrr',
    ).map((l) => `  ${l}`),
  );
  const spanSeconds =
    applied.first !== null && applied.last !== null
      ? (applied.last.getTime() - applied.first.getTime()) / 1000
      : 0;
  add(
    `  applied by the aggregators: ${group(applied.count)} distinct wagers (expected ${group(expectedDistinct)}, probes included) ` +
      (spanSeconds > 0
        ? `in ${spanSeconds.toFixed(1)} s from first to last batch = ${group(applied.count / spanSeconds)}/s`
        : ''),
    `  aggregator backlog: at most ${group(lagMax)} messages during the load (sampled each second); ` +
      (lag === 0n
        ? `caught up ${catchUp} after the last acknowledgement`
        : `NOT caught up, ${group(lag)} messages left ${catchUp} after the last acknowledgement`),
  );
  for (const r of reports)
    if (r.errors > 0) add(`  ${r.via} errors by code: ${JSON.stringify(r.errorsByCode)}`);

  add('', 'latency (ms)');
  const latencyRows: string[][] = [];
  if (kafkaReport !== null)
    latencyRows.push(
      percentilesRow(
        'end to end: probe sent via Kafka → visible in the projector',
        kafkaReport.probe.visible,
        kafkaReport.probe.latencyMs,
      ),
    );
  for (const r of [kafkaReport, httpReport])
    if (r !== null)
      latencyRows.push(
        percentilesRow(
          r.via === 'kafka' ? 'ack: Kafka producer, acks=all' : 'ack: gateway 202 (after Kafka acks)',
          r.acked,
          r.ackLatencyMs,
        ),
      );
  add(
    ...formatTable(['measure', 'n', 'p50', 'p90', 'p99', 'max'], latencyRows, 'lrrrrr').map((l) => `  ${l}`),
  );
  if (kafkaReport !== null) {
    const p = kafkaReport.probe.latencyMs;
    add(
      p === null
        ? `  end-to-end latency NOT measured: ${kafkaReport.probe.note ?? 'no probe became visible'}`
        : `  end to end p99 ${ms(p.p99)} ms (p50 ${ms(p.p50)}, ${group(kafkaReport.probe.visible)} probes) at ` +
            `${group(settings.kafkaRate)}/s via Kafka${settings.httpRate > 0 ? ` + ${group(settings.httpRate)}/s via HTTP` : ''}; ` +
            `target p99 < ${LATENCY_TARGET_MS} ms at 5,000/s: ${p.p99 < LATENCY_TARGET_MS ? 'met' : 'NOT met'}`,
    );
  }
  if (kafkaReport !== null && kafkaReport.probe.warmupVisible > 0)
    add(
      `  (not in these figures: ${kafkaReport.probe.warmupVisible} probes of the first ${PROBE_WARMUP_MS / 1000} s, start-up, the slowest ${ms(kafkaReport.probe.warmupMaxMs)} ms)`,
    );
  if (kafkaReport !== null && kafkaReport.probe.note !== null) add(`  probe: ${kafkaReport.probe.note}`);
  if (kafkaReport !== null && kafkaReport.probe.timeouts > 0)
    add(`  probe: ${kafkaReport.probe.timeouts} probes not visible within ${PROBE_TIMEOUT_MS / 1000} s`);

  add('', `pools now (projector GET /v1/pools against Postgres pool_totals)`);
  const poolRows = [...dbNow.pools.values()].map((p) => {
    const q = projector.get(p.poolId);
    const same =
      q !== undefined &&
      q.cycle === p.cycle &&
      q.version === p.version &&
      q.amountMinor === p.amountMinor.toString();
    const was = before.pools.get(p.poolId);
    return [
      p.poolId,
      p.currency,
      q === undefined ? '-' : moneyText(BigInt(q.amountMinor)),
      was === undefined ? '-' : moneyText(was.amountMinor),
      String(p.cycle),
      p.version,
      moneyText(p.wonTotalMicro / 1_000_000n),
      same ? 'same' : q === undefined ? 'MISSING' : `DIFFERS (pg ${p.cycle}/${p.version}/${p.amountMinor})`,
    ];
  });
  const projectorOk = poolRows.every((r) => r[7] === 'same');
  add(
    ...formatTable(
      ['pool', 'cur', 'amount now', 'before', 'cycle', 'version', 'won ever', 'projector = pg'],
      poolRows,
      'llrrrrrl',
    ).map((l) => `  ${l}`),
  );
  if (projectorNote !== '') add(`  projector: ${projectorNote}`);

  add(
    '',
    "reconciliation per pool: the generator's own ledger vs the change of the lifetime meters in Postgres",
    '  (minor units, exact to the micro-unit; visible = contribution + overflow totals, reserve = reserve total;',
    '   amounts are not compared: a mystery hit or a ceiling moves money between amount, reserve and next cycle)',
  );
  add(
    ...formatTable(
      [
        'pool',
        'wagers',
        'expected visible',
        'actual visible',
        'expected reserve',
        'actual reserve',
        'hits',
        'check',
      ],
      poolChecks.map((c) => [
        c.poolId,
        group(c.wagers),
        microText(c.expectedVisibleMicro),
        microText(c.actualVisibleMicro),
        microText(c.expectedReserveMicro),
        microText(c.actualReserveMicro),
        group(c.mysteryHits),
        c.verdict,
      ]),
      'lrrrrrrl',
    ).map((l) => `  ${l}`),
  );
  const hitPools = poolChecks.filter((c) => c.mysteryHits > 0);
  for (const c of hitPools) {
    const won =
      (after.mysteryWins.get(c.poolId)?.minor ?? 0n) - (before.mysteryWins.get(c.poolId)?.minor ?? 0n);
    add(
      `  mystery hits during the run: ${c.poolId} ${group(c.mysteryHits)} hits paying ${moneyText(won)} in total`,
    );
  }
  if (hitPools.length === 0) add('  mystery hits during the run: none');
  if (!exact)
    add(`  ${group(unconfirmed)} events were sent but never acknowledged: the expectation is a lower bound`);

  add('', 'dead letters by reason (table jackpot.dead_letters, since the snapshot)');
  add(
    ...formatTable(
      ['reason', 'expected', 'actual', 'check'],
      deadChecks.map((c) => [c.reason, group(c.expected), group(c.actual), c.verdict]),
      'lrrl',
    ).map((l) => `  ${l}`),
  );
  if (deadChecks.length === 0) add('  none expected, none found');

  add('', 'invariants (npm run reconcile: every pool and cycle, money conserved to the micro-unit)');
  add(...reconcileSummary(reconcileText, 12).map((l) => `  ${l}`));

  add('', 'timings');
  add(...timings.map(([k, v]) => `  ${k.padEnd(20)} ${v.padStart(8)}`));

  const appliedOk = !exact || applied.count === expectedDistinct;
  const problems = [
    ...(input.failures > 0 ? ['a load run failed'] : []),
    ...(lag === 0n ? [] : ['the aggregators did not catch up']),
    ...(exact ? [] : ['unacknowledged events']),
    ...(appliedOk ? [] : [`applied ${applied.count} wagers, expected ${expectedDistinct}`]),
    ...poolChecks.filter((c) => c.verdict !== 'OK').map((c) => `pool ${c.poolId}`),
    ...deadChecks.filter((c) => c.verdict !== 'OK').map((c) => `dead letters ${c.reason}`),
    ...(projectorOk ? [] : ['projector differs from Postgres']),
    ...(reconcileCode === 0 ? [] : ['npm run reconcile found a mismatch']),
  ];
  add(
    '',
    problems.length === 0
      ? 'RESULT: everything reconciles, to the micro-unit.'
      : `RESULT: NOT reconciled: ${problems.join('; ')}.`,
    '',
    'The stack is still running. Look around:',
    `  curl ${projectorUrl}/v1/pools          # live pool totals (also /v1/pools/stream, SSE)`,
    '  npm run stack:status                         # the processes',
    '  npm run reconcile                            # the invariants, every pool and cycle',
    '  npm run demo                                 # again: same database, new traffic',
    'Stop it with: npm run stack:down',
  );
  return { lines, problems };
}
