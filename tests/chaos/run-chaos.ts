/**
 * The chaos suite (issue 7): `npm run test:chaos` (240 s of stream), `npm run test:chaos:short`
 * (90 s, for CI). Not a node:test file, so `npm test` never runs it.
 *
 * On its own Kafka broker and Postgres cluster (so it may restart them), with the real services as
 * processes, it streams wagers through both paths (producer library → Kafka, and the gateway)
 * while it injects, at moments drawn from a printed seed: SIGKILL of aggregator replicas (and
 * replicas that SIGKILL themselves at the aggregator's fault points), a replica SIGSTOPped past
 * its session timeout and woken up, restarts of the broker and of Postgres, killed database
 * connections, scaling 1 → 3 → 1, re-sent duplicates and bad input; claimed wins and a mystery
 * pool keep the lifecycle moving. Then it stops the stream, waits for the lag to drain, checks
 * (tests/chaos/verify.ts), prints what it injected and the counts, and exits 1 if a wager was lost
 * or doubled, a row or meter is wrong, reconcile fails or the projector disagrees.
 *
 * Everything it starts is stopped at the end, on failure and on Ctrl-C (a second Ctrl-C kills at once).
 *
 * Over 500 lines and kept whole: `main()` is the run's script, phases in order (infrastructure,
 * services, configuration, stream with faults, drain, checks, report) sharing the handles that one
 * `finally` stops; what stands alone already lives beside it (faults, stream, claims, verify, ...).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { JackpotRequest } from '../../shared/src/domain/jackpot-config.js';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { ensureBuilt } from '../../infra/build.js';
import { STACK_DIR } from '../../infra/processes.js';
import { contractTopics, createTopic } from '../../infra/topics.js';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createPool } from '../../shared/src/db.js';
import { toError } from '../../shared/src/errors.js';
import { createKafka } from '../../shared/src/kafka.js';
import { runIfMain } from '../../shared/src/run-main.js';
import { createRng } from '../../loadgen/src/random.js';
import { runClaims, type ClaimRecord } from './claims.js';
import { ownInfra } from './cluster.js';
import { describeHeavy, makePlan, runFaults } from './faults.js';
import { createJournal } from './journal.js';
import { createSupervisor, type ServiceProcess, type Supervisor } from './services.js';
import { loadSettings, USAGE } from './settings.js';
import { createStream, type Stream } from './stream.js';
import {
  checkDeadLetters,
  checkLedger,
  checkProjector,
  checkTotals,
  checkWins,
  lag,
  runReconcileCommand,
  waitForDrain,
  waitForOutbox,
  type GamePools,
} from './verify.js';

type JackpotSpec = JackpotRequest;

/**
 * Two jackpots in two currencies (so a currency mismatch is a dead letter), every pool feature:
 * reserves, a ceiling overflowing to the reserve, one holding overflow for the next cycle, and a
 * mystery pool that hits every few hundred wagers.
 */
const JACKPOTS: readonly JackpotSpec[] = [
  {
    jackpotId: 'chaos-eu',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1_000, contributionPpm: 10_000, reservePpm: 2_000 },
      { tier: 'major', seedMinor: 100_000, contributionPpm: 3_000, reservePpm: 500 },
      {
        tier: 'grand',
        seedMinor: 1_000_000,
        contributionPpm: 1_000,
        ceilingMinor: 1_005_000,
        overflow: 'reserve',
      },
      { tier: 'drop', seedMinor: 500, contributionPpm: 20_000, reservePpm: 1_000, mustHitByMinor: 5_000 },
    ],
    games: ['chaos-eu-1', 'chaos-eu-2', 'chaos-eu-3', 'chaos-eu-4', 'chaos-eu-5', 'chaos-eu-6'],
  },
  {
    jackpotId: 'chaos-uk',
    currency: 'GBP',
    pools: [
      { tier: 'main', seedMinor: 500, contributionPpm: 7_000, ceilingMinor: 20_000, overflow: 'next-cycle' },
    ],
    games: ['chaos-uk-1', 'chaos-uk-2'],
  },
];
const CLAIM_TARGETS = [
  { poolId: 'chaos-eu:mini', gameId: 'chaos-eu-1' },
  { poolId: 'chaos-uk:main', gameId: 'chaos-uk-1' },
  { poolId: 'chaos-eu:major', gameId: 'chaos-eu-2' },
  { poolId: 'chaos-eu:grand', gameId: 'chaos-eu-3' },
];
const MYSTERY_POOLS = JACKPOTS.flatMap((j) =>
  j.pools.filter((p) => p.mustHitByMinor !== undefined).map((p) => `${j.jackpotId}:${p.tier}`),
);

function gamePools(): GamePools {
  return new Map(
    JACKPOTS.flatMap((j) =>
      j.games.map(
        (g) =>
          [
            g,
            j.pools.map((p) => ({
              poolId: `${j.jackpotId}:${p.tier}`,
              contributionPpm: p.contributionPpm,
              reservePpm: p.reservePpm ?? 0,
            })),
          ] as const,
      ),
    ),
  );
}

const n = (x: number): string => x.toLocaleString('en-US');

/** Items joined by commas, broken into lines of about `width` characters, continued at `indent`. */
function wrap(items: readonly string[], width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line !== '' && line.length + item.length + 2 > width) {
      lines.push(`${line},`);
      line = item;
    } else line = line === '' ? item : `${line}, ${item}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Interrupted extends Error {}

async function waitReady(proc: ServiceProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!proc.ready) {
    if (proc.exit !== null)
      throw new Error(
        `${proc.name} exited before it was ready (${proc.exit.signal ?? `code ${String(proc.exit.code)}`}):\n${proc.exit.logTail}`,
      );
    if (Date.now() > until)
      throw new Error(`${proc.name} not ready after ${timeoutMs / 1000} s; see ${proc.logFile}`);
    await sleep(200);
  }
}

async function request(
  method: 'PUT' | 'GET',
  url: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, text: await res.text() };
}

async function main(): Promise<number> {
  if (process.argv.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const settings = loadSettings(process.argv.slice(2));
  const journal = createJournal();
  const say = (line: string): void => journal.say(line);
  const runId = `${settings.seed}-${Date.now().toString(36)}`;
  const rng = (stream: string) => createRng(settings.seed, `chaos/${stream}`);
  const replay = `CHAOS_SEED=${settings.seed} npm run test:chaos${settings.short ? ':short' : ''}`;
  say(`chaos suite: seed ${settings.seed} (replay the plan and the traffic: ${replay})`);
  say(
    `stream ${settings.durationSeconds} s at ${settings.kafkaRate}/s via Kafka + ${settings.httpRate}/s via the gateway; ` +
      `${settings.baseReplicas} replicas, session ${settings.sessionTimeoutMs / 1000} s, fault points ` +
      `after_copy/after_commit at ${settings.faultPointProbability} on half of the replica starts`,
  );
  const plan = makePlan(rng('plan'), settings);
  say(`heavy faults planned, in order (each when the previous is over, after a gap):`);
  for (const h of plan.heavy) say(`  after ${(h.gapMs / 1000).toFixed(1)} s: ${describeHeavy(h.fault)}`);
  say(`light faults planned: ${plan.light.length} (${plan.light.map((l) => l.fault).join(', ')})`);

  const logDir = join(STACK_DIR, 'chaos', runId);
  mkdirSync(logDir, { recursive: true });
  const infra = ownInfra({
    kafkaPort: settings.kafkaPort,
    pgPort: settings.pgPort,
    database: settings.database,
    journal,
  });
  let supervisor: Supervisor | undefined;
  let stream: Stream | undefined;
  let admin: Admin | undefined;
  let db: ReturnType<typeof createPool> | undefined;
  const topics = {
    wagers: `chaos.${runId}.wagers`,
    updates: `chaos.${runId}.pool-updates`,
    dlq: `chaos.${runId}.wagers-dlq`,
    awards: `chaos.${runId}.awards`,
  };

  const stopped = { done: false };
  let endStream: () => void = () => undefined;
  const streamEnd = new Promise<void>((r) => {
    endStream = r;
  });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      say(`${signal} again: killing everything now`);
      supervisor?.killAllNow();
      process.exit(130);
    }
    interrupted = true;
    say(`${signal}: stopping the stream and the faults, then cleaning up (again to kill at once)`);
    stopped.done = true;
    endStream();
    supervisor?.interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => supervisor?.killAllNow());
  const checkpoint = (): void => {
    if (interrupted) throw new Interrupted('interrupted');
  };

  const failures: string[] = [];
  const warnings: string[] = [];
  try {
    // ---- infrastructure of our own
    say(
      `infra: Kafka on ${infra.brokers.join(',')}, Postgres ${infra.databaseUrl} (fresh database); logs in ${logDir}`,
    );
    await Promise.all([infra.up(), ensureBuilt()]);
    checkpoint();
    const kafka = createKafka({ brokers: infra.brokers, clientId: 'chaos-suite' });
    admin = kafka.admin();
    await admin.connect();
    const names: Record<string, string> = {
      'jackpot.wagers.v1': topics.wagers,
      'jackpot.pool-updates.v1': topics.updates,
      'jackpot.wagers.dlq.v1': topics.dlq,
      'jackpot.awards.v1': topics.awards,
    };
    for (const spec of contractTopics(settings.partitions))
      await createTopic(admin, { ...spec, topic: names[spec.topic] ?? spec.topic });
    say(`topics: ${Object.values(topics).join(', ')}`);
    db = createPool(infra.databaseUrl, {
      max: 4,
      applicationName: 'chaos-suite',
      onIdleError: () => undefined,
    });

    // ---- the services
    const faultPoints = `after_copy:${settings.faultPointProbability},after_commit:${settings.faultPointProbability}`;
    supervisor = createSupervisor({
      env: {
        KAFKA_BROKERS: infra.brokers.join(','),
        DATABASE_URL: infra.databaseUrl,
        AGGREGATOR_TOPIC: topics.wagers,
        INGEST_TOPIC: topics.wagers,
        POOL_UPDATES_TOPIC: topics.updates,
        PROJECTOR_TOPIC: topics.updates,
        DLQ_TOPIC: topics.dlq,
        AWARDS_TOPIC: topics.awards,
        AGGREGATOR_GROUP_ID: `chaos-${runId}`,
        AGGREGATOR_SESSION_TIMEOUT_MS: String(settings.sessionTimeoutMs),
        // Small windows: more transactions in flight for a kill to land in.
        AGGREGATOR_BATCH_MAX_EVENTS: '2000',
        AGGREGATOR_PARTITIONS_CONCURRENTLY: String(settings.partitions),
        INGEST_HOST: '127.0.0.1',
        PROJECTOR_HOST: '127.0.0.1',
      },
      logDir,
      journal,
      rng: rng('replicas'),
      faultPoints,
      faultPointShare: 0.5,
    });
    const [ingest, projector] = await Promise.all([
      supervisor.start('ingest'),
      supervisor.start('projector'),
    ]);
    await Promise.all([
      supervisor.scaleTo(settings.baseReplicas, 120_000),
      waitReady(ingest, 120_000),
      waitReady(projector, 120_000),
    ]);
    checkpoint();
    const gatewayUrl = `http://127.0.0.1:${ingest.port}`;
    const projectorUrl = `http://127.0.0.1:${projector.port}`;

    // ---- configuration through the product's own paths
    const adminKey = (await createApiKey(db, { role: 'admin', name: `chaos-admin-${runId}` })).key;
    const gameKey = (await createApiKey(db, { role: 'game', name: `chaos-game-${runId}`, jackpots: 'all' }))
      .key;
    for (const j of JACKPOTS) {
      const res = await request('PUT', `${gatewayUrl}/v1/admin/jackpots/${j.jackpotId}`, adminKey, {
        currency: j.currency,
        pools: j.pools,
        games: j.games,
      });
      if (res.status !== 200)
        throw new Error(`PUT jackpot ${j.jackpotId} answered ${res.status}: ${res.text}`);
    }
    say(
      `jackpots: ${JACKPOTS.map((j) => `${j.jackpotId} (${j.pools.map((p) => p.tier).join(', ')})`).join('; ')}; mystery: ${MYSTERY_POOLS.join(', ')}`,
    );

    // ---- the stream, the faults, the claims
    stream = createStream({
      kafka,
      topic: topics.wagers,
      gatewayUrl,
      apiKey: gameKey,
      games: JACKPOTS.flatMap((j) => j.games.map((gameId) => ({ gameId, currency: j.currency }))),
      seed: settings.seed,
      kafkaRate: settings.kafkaRate,
      httpRate: settings.httpRate,
    });
    const durationMs = settings.durationSeconds * 1000;
    say(`stream: starting, ${settings.durationSeconds} s`);
    // The stream runs its duration, and on until every kind of heavy fault was injected once (a
    // broker restart can take long enough on a busy machine to push the last ones past the end),
    // but never more than 3 minutes longer.
    const endAt = Date.now() + durationMs;
    let firstRound = false;
    let extendedSaid = false;
    const timer = setInterval(() => {
      if (Date.now() < endAt || stopped.done) return;
      if (firstRound || Date.now() > endAt + 180_000) {
        stopped.done = true;
        endStream();
      } else if (!extendedSaid) {
        extendedSaid = true;
        say('stream: running on until every kind of heavy fault has been injected once');
      }
    }, 200);
    let progressPending = false;
    const progress = setInterval(() => {
      const s = stream;
      const sup = supervisor;
      const pool = db;
      const adm = admin;
      // The lag query hangs while the broker is down; one at a time.
      if (s === undefined || sup === undefined || pool === undefined || adm === undefined || progressPending)
        return;
      progressPending = true;
      const acked = [...s.record.wagers.values()].filter((w) => w.acked).length;
      const replicas = sup
        .replicas()
        .map((p) => `${p.name}${p.paused ? ' (stopped)' : p.ready ? '' : ' (starting)'}`);
      void lag(pool, adm, topics.wagers, `chaos-${runId}`)
        .then(
          (l) => n(l.lag),
          () => '?',
        )
        .then((behind) =>
          say(
            `progress: sent ${n(s.record.messages.kafka)} via Kafka, ${n(s.record.messages.http)} via the gateway; ` +
              `${n(acked)} of ${n(s.record.wagers.size)} wagers acked, ${n(s.inFlight())} in flight; lag ${behind}; replicas ${replicas.join(', ') || 'none'}`,
          ),
        )
        .finally(() => {
          progressPending = false;
        });
    }, 10_000);
    const ctx = {
      journal,
      rng: rng('faults'),
      infra,
      supervisor,
      stream,
      baseReplicas: settings.baseReplicas,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      aborted: () => interrupted,
      missedFaultPoints: [] as string[],
    };
    const streaming = stream.run(streamEnd);
    const faulting = runFaults(ctx, plan, stopped, () => {
      firstRound = true;
    });
    const claiming = runClaims({
      gatewayUrl,
      apiKey: gameKey,
      targets: CLAIM_TARGETS,
      count: settings.short ? 5 : 10,
      durationMs,
      seed: settings.seed,
      rng: rng('claims'),
      journal,
      aborted: () => interrupted,
    });
    await streaming;
    say('stream: stopped');
    const { skipped } = await faulting;
    if (skipped > 0) say(`${skipped} planned heavy fault(s) not reached before the stream ended`);
    const claims: ClaimRecord[] = await claiming;
    clearInterval(timer);
    checkpoint();

    // ---- the end of the stream: every answer in, every unconfirmed wager re-sent until acked
    say('waiting for the answers still outstanding');
    await Promise.race([stream.settle(), sleep(200_000)]);
    const confirm = await stream.confirmAll(120_000);
    if (confirm.resent > 0)
      say(
        `re-sent ${n(confirm.resent)} wager(s) none of whose copies was acknowledged (same eventIds), until acked; ${confirm.stillUnconfirmed} still not`,
      );
    await supervisor.scaleTo(settings.baseReplicas, 120_000);
    clearInterval(progress);
    checkpoint();
    const drain = await waitForDrain(
      db,
      admin,
      topics.wagers,
      `chaos-${runId}`,
      settings.drainTimeoutSeconds * 1000,
      journal,
    );
    if (!drain.drained)
      failures.push(
        `the lag did not drain within ${settings.drainTimeoutSeconds} s: ${drain.lag} messages behind`,
      );
    else say(`drained in ${drain.seconds.toFixed(1)} s`);
    checkpoint();
    const outbox = await waitForOutbox(db, 30_000);
    if (outbox.deadLetters > 0 || outbox.wins > 0)
      warnings.push(
        `outbox rows still unpublished 30 s after the drain: ${outbox.deadLetters} dead letter(s), ${outbox.wins} win(s)`,
      );

    // ---- the checks
    say('checking');
    const positions = await lag(db, admin, topics.wagers, `chaos-${runId}`);
    const ledger = await checkLedger(db, stream.record, gamePools());
    const totals = await checkTotals(db, stream.record, gamePools());
    const deadLetters = await checkDeadLetters(db, stream.record);
    const wins = await checkWins(db, claims, stream.record, MYSTERY_POOLS);
    const projectorCheck = await checkProjector(db, projectorUrl, 20_000);
    const reconcile = await runReconcileCommand(infra.databaseUrl);
    // The gateway and the projector must come back by themselves after the faults: ready again
    // within a minute (kafkajs backs off up to ~20 s between reconnects after a long outage).
    const readiness: string[] = [];
    for (const kind of ['ingest', 'projector'] as const) {
      const t0 = Date.now();
      const s = supervisor.service(kind);
      let ok = false;
      while (!ok && Date.now() - t0 < 60_000) {
        ok = await fetch(`http://127.0.0.1:${s.port}/readyz`, { signal: AbortSignal.timeout(3000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (!ok) await sleep(500);
      }
      const waited = (Date.now() - t0) / 1000;
      if (!ok) failures.push(`${s.name} is still not ready (GET /readyz) 60 s after the drain`);
      else if (waited > 1)
        warnings.push(`${s.name} was not ready after the drain; ready ${waited.toFixed(1)} s later`);
      readiness.push(`${s.name} ${ok ? 'ready' : 'NOT READY'}`);
    }

    if (ledger.lost > 0)
      failures.push(
        `${n(ledger.lost)} acknowledged wager(s) lost (${n(ledger.lostPairs)} pool rows missing)`,
      );
    if (ledger.doubled > 0)
      failures.push(
        `${n(ledger.doubled)} wager(s) doubled (${n(ledger.doubledPairs)} pool rows booked twice)`,
      );
    for (const [problem, count] of ledger.wrongRows) failures.push(`${n(count)} ledger row(s): ${problem}`);
    if (ledger.phantomApplied > 0) failures.push(`${ledger.phantomApplied} applied event id(s) never sent`);
    if (ledger.ledgerEvents !== ledger.appliedEvents)
      failures.push(
        `the ledger holds ${ledger.ledgerEvents} distinct wagers, applied_events ${ledger.appliedEvents}`,
      );
    for (const m of totals.mismatches)
      failures.push(`pool_totals ${m.poolId} ${m.meter}: expected ${m.expected}, found ${m.actual}`);
    for (const d of deadLetters.reasons.filter((r) => !r.ok))
      failures.push(
        `dead letters ${d.reason}: ${d.actual}, expected between ${d.acked} (acknowledged) and ${d.sent} (sent)`,
      );
    failures.push(...wins.problems);
    failures.push(...stream.record.gateway.mismatches.map((m) => `gateway: ${m}`));
    if (!projectorCheck.ok) failures.push(`the projector disagrees with pool_totals: ${projectorCheck.diff}`);
    if (reconcile.code !== 0) {
      // Its table has a line per cycle (hundreds with a busy mystery pool): the file keeps it, the
      // summary the mismatches.
      const file = join(logDir, 'reconcile.txt');
      writeFileSync(file, `${reconcile.output}\n`);
      const mismatches = reconcile.output.split('\n').filter((l) => l.startsWith('MISMATCH'));
      failures.push(
        `npm run reconcile exited ${reconcile.code} (its output: ${file}):\n${[
          ...mismatches.slice(0, 12),
          ...(mismatches.length > 12 ? [`… ${mismatches.length - 12} more`] : []),
          reconcile.output.split('\n').at(-1) ?? '',
        ]
          .map((l) => `      ${l}`)
          .join('\n')}`,
      );
    }
    if (ctx.missedFaultPoints.length > 0)
      warnings.push(
        `planned fault point kills that did not happen: ${ctx.missedFaultPoints.join(', ')} (the replica ended otherwise or never reached the point)`,
      );
    if (ledger.unconfirmed > 0)
      warnings.push(
        `${ledger.unconfirmed} wager(s) never acknowledged, so not held to "exactly once" (only to "at most once")`,
      );

    // ---- the report
    const exits = supervisor.exits();
    const byCause = new Map<string, number>();
    for (const e of exits) byCause.set(e.cause, (byCause.get(e.cause) ?? 0) + 1);
    const points = exits.filter((e) => e.cause === 'fault point').map((e) => e.point ?? 'unnamed');
    const crashes = exits.filter((e) => e.cause === 'crash' || e.cause === 'unclean stop');
    const failedStarts = exits.filter((e) => e.cause === 'start failed');
    if (failedStarts.length > 0)
      warnings.push(
        `${failedStarts.length} process(es) exited before they were ready (restarted by the suite): ${[
          ...new Set(failedStarts.map((e) => e.why)),
        ].join(' | ')}`,
      );
    for (const c of crashes)
      warnings.push(
        `${c.name} ${c.cause === 'crash' ? 'died on its own' : 'did not stop cleanly'} at +${c.atSeconds.toFixed(1)} s ` +
          `(${c.signal ?? `exit ${String(c.code)}`}): ${c.why} (${c.logFile})`,
      );
    const errors = [...stream.record.errors].map(([code, count]) => `${code} ${n(count)}`).join(', ');
    const badSent = [...stream.record.bad.values()].reduce((s, t) => s + t.sent, 0);
    const duplicatesDropped = positions.consumed - ledger.appliedEvents - deadLetters.total;

    const out: string[] = [];
    out.push(
      '',
      `== chaos run ${runId}: seed ${settings.seed} (${replay})`,
      '',
      `faults injected (${journal.faults().length}):`,
    );
    for (const f of journal.faults())
      out.push(`  +${f.atSeconds.toFixed(1).padStart(6)} s  ${f.kind.padEnd(20)} ${f.detail}`);
    out.push(
      '',
      `processes started: ${supervisor.starts().aggregator} replicas, ${supervisor.starts().ingest} gateway(s), ${supervisor.starts().projector} projector(s); exits: ${[...byCause].map(([c, k]) => `${c} ${k}`).join(', ') || 'none'}` +
        (points.length > 0
          ? `; fault points hit: ${[...new Set(points)].map((p) => `${p} ×${points.filter((x) => x === p).length}`).join(', ')}`
          : ''),
      '',
      'counts:',
      `  sent                ${n(stream.record.messages.kafka + stream.record.messages.http)} messages (${n(stream.record.messages.kafka)} via Kafka, ${n(stream.record.messages.http)} via the gateway)`,
      `    valid wagers      ${n(stream.record.wagers.size)} distinct event ids, ${n(ledger.acked)} acknowledged${confirm.resent > 0 ? ` (${n(confirm.resent)} only after the final re-send)` : ''}`,
      `    re-sent copies    ${n(stream.record.copiesSent)}`,
      `    bad input         ${n(badSent)} to dead-letter; ${stream.record.gateway.matched} of ${stream.record.gateway.expected} refused by the gateway with the expected code`,
      `  consumed            ${n(positions.consumed)} messages (all ${n(positions.produced)} on the topic)`,
      `  applied             ${n(ledger.appliedEvents)} wagers, ${n(ledger.rows)} ledger rows`,
      `  duplicates dropped  ${n(duplicatesDropped)}`,
      `  dead-lettered       ${n(deadLetters.total)}: ${wrap(
        deadLetters.reasons.map((r) => `${r.reason} ${r.actual}`),
        80,
        22,
      )}`,
      `  lost                ${n(ledger.lost)}  (must be 0)`,
      `  doubled             ${n(ledger.doubled)}  (must be 0)`,
      `  wrong ledger rows   ${n([...ledger.wrongRows.values()].reduce((s, k) => s + k, 0))}`,
      `  pool meters         ${totals.mismatches.length === 0 ? `${totals.pools} pools equal the independent sums` : `${totals.mismatches.length} mismatch(es)`}`,
      `  wins                ${wins.claims} claimed (${wins.repeats} claimId(s) sent twice), ${wins.mystery} mystery hits`,
      `  reconcile           ${reconcile.code === 0 ? (reconcile.output.split('\n').at(-1)?.trim() ?? 'clean') : `FAILED (exit ${reconcile.code})`}`,
      `  services            ${readiness.join(', ')} after the faults`,
      `  projector           ${projectorCheck.ok ? `= pool_totals (${projectorCheck.pools} pools: amount, cycle, version)` : 'DISAGREES'}`,
      `  client retries      ${n(stream.retries().kafka)} Kafka sends, ${n(stream.retries().http)} gateway requests (${n(stream.retries().throttled)} throttled)`,
      `  unacknowledged      ${errors || 'none'}${errors === '' ? '' : ' (the valid wagers among them re-sent at the end)'}`,
    );
    if (ledger.examples.length > 0)
      out.push('', 'wrong rows, one of each:', ...ledger.examples.map((e) => `  ${e}`));
    if (warnings.length > 0) out.push('', 'warnings:', ...warnings.map((w) => `  - ${w}`));
    out.push(
      '',
      failures.length === 0 ? 'RESULT: PASS' : `RESULT: FAIL\n${failures.map((f) => `  - ${f}`).join('\n')}`,
      '',
    );
    process.stdout.write(out.join('\n') + '\n');
    return failures.length === 0 ? 0 : 1;
  } catch (e) {
    if (e instanceof Interrupted) {
      say('interrupted: no verdict');
      return 130;
    }
    say(`the suite failed: ${toError(e).stack ?? toError(e).message}`);
    return 2;
  } finally {
    endStream();
    stopped.done = true;
    say('cleaning up');
    if (supervisor !== undefined) await supervisor.stopAll();
    await stream?.close().catch(() => undefined);
    if (admin !== undefined) {
      await admin.deleteTopics({ topics: Object.values(topics), timeout: 10_000 }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    await db?.end().catch(() => undefined);
    if (settings.keepInfra)
      say(`CHAOS_KEEP_INFRA: broker ${infra.brokers.join(',')} and ${infra.databaseUrl} left running`);
    else await infra.down().catch((e: unknown) => say(`infra: ${toError(e).message}`));
    say(`logs: ${logDir}`);
  }
}

runIfMain(import.meta.url, main, 'chaos');
