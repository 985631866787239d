/**
 * What the suite injects and when. The plan is drawn from the seed up front (order, gaps, variants),
 * so a seed replays the same sequence of faults; only the machine's timings differ.
 *
 * Two tracks run beside the stream:
 * - heavy faults, one at a time (each leaves the pipeline recovering for a while): SIGKILL of
 *   replicas, a zombie (SIGSTOP past the session timeout, then SIGCONT), a restart of the broker,
 *   a restart of Postgres, scaling the replicas 1 → 3 → 1, and a replica started to SIGKILL
 *   itself at each of the aggregator's fault points (after_copy, after_commit);
 * - light ones, in between and overlapping: killed database connections, bursts of re-sent
 *   duplicates (across both paths, older than the stream's own re-sends), bursts of bad input.
 * The replicas started with AGGREGATOR_FAULT_POINTS add SIGKILLs at their fault points on their own.
 */
import { shuffled, type Rng } from '../../loadgen/src/random.js';
import type { OwnInfra } from './cluster.js';
import type { Journal } from './journal.js';
import type { ServiceProcess, Supervisor } from './services.js';
import type { Stream } from './stream.js';

export type HeavyFault =
  | { readonly kind: 'kill-replica'; readonly all: boolean }
  | { readonly kind: 'zombie'; readonly extraMs: number }
  | { readonly kind: 'kafka-restart'; readonly sigkill: boolean; readonly downMs: number }
  | { readonly kind: 'postgres-restart'; readonly downMs: number }
  | { readonly kind: 'scale-1-3-1'; readonly holdMs: readonly [number, number, number] }
  | { readonly kind: 'fault-point'; readonly point: 'after_copy' | 'after_commit' };

export type LightFault = 'kill-db-connections' | 'duplicates' | 'bad-input';

export interface Plan {
  readonly heavy: readonly { readonly gapMs: number; readonly fault: HeavyFault }[];
  readonly light: readonly { readonly gapMs: number; readonly fault: LightFault }[];
}

/** One deck: every kind once, and the fault point kill once at each point. */
const HEAVY_DECK: readonly HeavyDeckEntry[] = [
  'kill-replica',
  'zombie',
  'kafka-restart',
  'postgres-restart',
  'scale-1-3-1',
  'fault-point:after_copy',
  'fault-point:after_commit',
];
type HeavyDeckEntry =
  Exclude<HeavyFault['kind'], 'fault-point'> | 'fault-point:after_copy' | 'fault-point:after_commit';
/**
 * The fault point probability of a replica started to die at one: 0.3 a window, so it dies within
 * its first few windows (the background replicas' 0.002 makes such kills rare and unplanned).
 */
const PLANNED_FAULT_POINT_PROBABILITY = 0.3;
const LIGHT_KINDS: readonly LightFault[] = ['kill-db-connections', 'duplicates', 'bad-input'];

/** Rough seconds each takes on this 2-core machine, to fit the plan in the stream. */
function estimateSeconds(f: HeavyFault, sessionTimeoutMs: number): number {
  switch (f.kind) {
    case 'kill-replica':
      return 3;
    case 'zombie':
      return (sessionTimeoutMs + f.extraMs) / 1000;
    case 'kafka-restart':
      return 20 + f.downMs / 1000;
    case 'postgres-restart':
      return 3 + f.downMs / 1000;
    case 'scale-1-3-1':
      return 20 + (f.holdMs[0] + f.holdMs[1] + f.holdMs[2]) / 1000;
    case 'fault-point':
      return 10;
  }
}

function heavyFault(entry: HeavyDeckEntry, rng: Rng, short: boolean): HeavyFault {
  if (entry === 'fault-point:after_copy') return { kind: 'fault-point', point: 'after_copy' };
  if (entry === 'fault-point:after_commit') return { kind: 'fault-point', point: 'after_commit' };
  const kind = entry;
  switch (kind) {
    case 'kill-replica':
      return { kind, all: rng.float() < 0.3 };
    case 'zombie':
      // Past the session timeout by 2-6 s: its partitions have moved when it wakes up.
      return { kind, extraMs: 2000 + rng.below(4000) };
    case 'kafka-restart':
      return { kind, sigkill: rng.float() < 0.5, downMs: 1000 + rng.below(short ? 2000 : 5000) };
    case 'postgres-restart':
      return { kind, downMs: 500 + rng.below(short ? 2000 : 5000) };
    case 'scale-1-3-1':
      return short
        ? { kind, holdMs: [2000 + rng.below(2000), 4000 + rng.below(4000), 2000 + rng.below(2000)] }
        : { kind, holdMs: [3000 + rng.below(5000), 8000 + rng.below(12000), 3000 + rng.below(5000)] };
  }
}

/**
 * Heavy faults in shuffled decks (every kind once before any repeats), until the estimate fills the
 * stream; light ones at random gaps throughout.
 */
export function makePlan(
  rng: Rng,
  opts: { durationSeconds: number; short: boolean; sessionTimeoutMs: number },
): Plan {
  const heavy: { gapMs: number; fault: HeavyFault }[] = [];
  // A few seconds of undisturbed stream first, so the first fault hits a pipeline in motion.
  let seconds = 5;
  const gap = (): number => (opts.short ? 1000 + rng.below(3000) : 2000 + rng.below(8000));
  while (seconds < opts.durationSeconds) {
    for (const entry of shuffled(HEAVY_DECK, rng)) {
      const fault = heavyFault(entry, rng, opts.short);
      const gapMs = heavy.length === 0 ? 5000 : gap();
      heavy.push({ gapMs, fault });
      seconds += gapMs / 1000 + estimateSeconds(fault, opts.sessionTimeoutMs);
    }
  }
  const light: { gapMs: number; fault: LightFault }[] = [];
  for (let t = 0; t < opts.durationSeconds;) {
    for (const fault of shuffled(LIGHT_KINDS, rng)) {
      const gapMs = opts.short ? 4000 + rng.below(8000) : 6000 + rng.below(14000);
      t += gapMs / 1000;
      if (t < opts.durationSeconds) light.push({ gapMs, fault });
    }
  }
  return { heavy, light };
}

export function describeHeavy(f: HeavyFault): string {
  switch (f.kind) {
    case 'kill-replica':
      return f.all ? 'SIGKILL every replica' : 'SIGKILL a replica';
    case 'zombie':
      return `SIGSTOP a replica for its session timeout + ${(f.extraMs / 1000).toFixed(1)} s`;
    case 'kafka-restart':
      return `${f.sigkill ? 'SIGKILL' : 'stop'} the broker, ${(f.downMs / 1000).toFixed(1)} s down, start`;
    case 'postgres-restart':
      return `stop Postgres (fast), ${(f.downMs / 1000).toFixed(1)} s down, start`;
    case 'scale-1-3-1':
      return `replicas → 1 (${(f.holdMs[0] / 1000).toFixed(0)} s) → 3 (${(f.holdMs[1] / 1000).toFixed(0)} s) → 1 (${(f.holdMs[2] / 1000).toFixed(0)} s) → back`;
    case 'fault-point':
      return `start a replica that SIGKILLs itself at ${f.point} (AGGREGATOR_FAULT_POINTS=${f.point}:${PLANNED_FAULT_POINT_PROBABILITY})`;
  }
}

export interface FaultContext {
  readonly journal: Journal;
  readonly rng: Rng;
  readonly infra: OwnInfra;
  readonly supervisor: Supervisor;
  readonly stream: Stream;
  readonly baseReplicas: number;
  readonly sessionTimeoutMs: number;
  /** Ctrl-C: cut a fault short (a paused replica is resumed, a scale stops where it is). */
  readonly aborted: () => boolean;
  /** Planned fault point kills that did not happen, for the summary. */
  readonly missedFaultPoints: string[];
}

/** Sleeps `ms`, or less when `stopped` resolves first; resolves with whether it slept the whole time. */
function wait(ms: number, stopped: { done: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = (): void => {
      if (stopped.done) resolve(false);
      else if (Date.now() - started >= ms) resolve(true);
      else setTimeout(tick, Math.min(100, ms - (Date.now() - started)));
    };
    tick();
  });
}

async function injectHeavy(ctx: FaultContext, f: HeavyFault): Promise<void> {
  const { journal, supervisor, rng } = ctx;
  const pick = () => {
    const candidates = supervisor.replicas().filter((p) => !p.paused);
    return candidates[rng.below(Math.max(1, candidates.length))];
  };
  switch (f.kind) {
    case 'kill-replica': {
      const victims = f.all
        ? supervisor.replicas().filter((p) => !p.paused)
        : [pick()].filter((p) => p !== undefined);
      if (victims.length === 0) {
        journal.say('(kill-replica skipped: no replica running)');
        return;
      }
      journal.fault('sigkill', victims.map((p) => `${p.name} (pid ${p.pid})`).join(', '));
      for (const p of victims) supervisor.kill(p);
      return;
    }
    case 'zombie': {
      // Its partitions must have somewhere to go: wait (20 s) for a second ready replica (dead ones
      // are being replaced), or start one for the occasion.
      const ready = () => supervisor.replicas().filter((p) => !p.paused && p.ready);
      const until = Date.now() + 20_000;
      while (ready().length < 2 && Date.now() < until && !ctx.aborted())
        await new Promise((r) => setTimeout(r, 250));
      let helper: ServiceProcess | null = null;
      if (ready().length < 2 && ready().length > 0) {
        helper = await supervisor.startExtraReplica(null);
        journal.say(`${helper.name} started to take the zombie's partitions`);
        const helperUntil = Date.now() + 30_000;
        while (!helper.ready && helper.exit === null && Date.now() < helperUntil)
          await new Promise((r) => setTimeout(r, 250));
      }
      const candidates = ready().filter((p) => p !== helper);
      const victim = candidates[rng.below(Math.max(1, candidates.length))];
      if (victim === undefined) {
        journal.say('(zombie skipped: no replica ready)');
        return;
      }
      const ms = ctx.sessionTimeoutMs + f.extraMs;
      journal.fault(
        'sigstop',
        `${victim.name} (pid ${victim.pid}) for ${(ms / 1000).toFixed(1)} s, past its ${ctx.sessionTimeoutMs / 1000} s session; ` +
          `${ready().length - 1} other replica(s) ready to take its partitions`,
      );
      supervisor.pause(victim);
      await wait(ms, {
        get done() {
          return ctx.aborted();
        },
      });
      supervisor.resume(victim);
      journal.say(`SIGCONT ${victim.name}: the zombie wakes up after its partitions moved`);
      if (helper !== null && helper.exit === null) await supervisor.stop(helper);
      return;
    }
    case 'kafka-restart': {
      journal.fault('kafka-restart', describeHeavy(f));
      const t0 = Date.now();
      await ctx.infra.restartKafka(f);
      journal.say(`kafka answering again, ${((Date.now() - t0) / 1000).toFixed(1)} s after the fault`);
      return;
    }
    case 'postgres-restart': {
      journal.fault('postgres-restart', describeHeavy(f));
      const t0 = Date.now();
      await ctx.infra.restartPostgres(f);
      journal.say(`postgres answering again, ${((Date.now() - t0) / 1000).toFixed(1)} s after the fault`);
      return;
    }
    case 'scale-1-3-1': {
      const steps: [number, number][] = [
        [1, f.holdMs[0]],
        [3, f.holdMs[1]],
        [1, f.holdMs[2]],
      ];
      for (const [n, holdMs] of steps) {
        if (ctx.aborted()) return;
        journal.fault(
          'scale',
          `${supervisor.replicas().length} → ${n} replica(s) (SIGTERM the extra ones, start missing ones), hold ${(holdMs / 1000).toFixed(0)} s`,
        );
        const t0 = Date.now();
        await supervisor.scaleTo(n);
        journal.say(`scaled to ${n} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        await wait(holdMs, {
          get done() {
            return ctx.aborted();
          },
        });
      }
      if (ctx.aborted()) return;
      journal.say(`scale back to ${ctx.baseReplicas} replicas`);
      await supervisor.scaleTo(ctx.baseReplicas);
      return;
    }
    case 'fault-point': {
      // Up to three replicas: one may die of another fault (a killed connection) before its point.
      for (let attempt = 1; attempt <= 3 && !ctx.aborted(); attempt++) {
        const proc = await supervisor.startExtraReplica(`${f.point}:${PLANNED_FAULT_POINT_PROBABILITY}`);
        journal.fault(
          `fault-point`,
          `${proc.name} (pid ${proc.pid}) started to SIGKILL itself at ${f.point} (probability ${PLANNED_FAULT_POINT_PROBABILITY} a window)`,
        );
        // 60 s: it is ready in ~5 s and takes partitions in the next rebalance; then a few windows.
        const exit = await Promise.race([
          proc.exited,
          new Promise<null>((r) => setTimeout(() => r(null), 60_000)),
        ]);
        if (exit?.cause === 'fault point') return;
        if (exit === null) {
          journal.say(
            `${proc.name} did not reach ${f.point} within 60 s; stopping it (does this aggregator read AGGREGATOR_FAULT_POINTS?)`,
          );
          await supervisor.stop(proc);
          break;
        }
        journal.say(
          `${proc.name} ended before ${f.point} (${exit.cause})${attempt < 3 ? '; another one' : ''}`,
        );
      }
      ctx.missedFaultPoints.push(f.point);
      return;
    }
  }
}

async function injectLight(ctx: FaultContext, f: LightFault): Promise<void> {
  const { journal, rng } = ctx;
  switch (f) {
    case 'kill-db-connections': {
      const killed = await ctx.infra.killConnections();
      const total = [...killed.values()].reduce((s, n) => s + n, 0);
      journal.fault(
        'pg_terminate_backend',
        `${total} service connection(s): ${[...killed].map(([app, n]) => `${app} ${n}`).join(', ') || 'none open'}`,
      );
      return;
    }
    case 'duplicates': {
      const n = 100 + rng.below(200);
      const sent = await ctx.stream.resendBurst(n, rng);
      journal.fault(
        'duplicates',
        `re-sent ${sent.kafka + sent.http} earlier wagers (${sent.kafka} via Kafka, ${sent.http} via the gateway), some with another occurredAt`,
      );
      return;
    }
    case 'bad-input': {
      const sent = await ctx.stream.badInputBurst(rng);
      journal.fault(
        'bad-input',
        `${sent.kafka} bad events via Kafka (one of each reason), a gateway batch of ${sent.http} mixing good wagers and bad items`,
      );
      return;
    }
  }
}

/**
 * Runs both tracks until `stopped.done`; a heavy fault in progress finishes first (a broker is
 * never left stopped). Resolves with the faults not reached.
 */
export async function runFaults(
  ctx: FaultContext,
  plan: Plan,
  stopped: { done: boolean },
  /** Called once every kind of heavy fault has been injected (the end of the first deck). */
  onFirstRound: () => void,
): Promise<{ skipped: number }> {
  let skipped = 0;
  const heavy = (async () => {
    for (const [i, step] of plan.heavy.entries()) {
      if (i === HEAVY_DECK.length) onFirstRound();
      if (!(await wait(step.gapMs, stopped))) {
        skipped += plan.heavy.length - i;
        return;
      }
      try {
        await injectHeavy(ctx, step.fault);
      } catch (e) {
        ctx.journal.say(`fault ${step.fault.kind} failed: ${e instanceof Error ? e.message : String(e)}`);
        throw e;
      }
    }
    onFirstRound();
  })();
  const light = (async () => {
    for (const step of plan.light) {
      if (!(await wait(step.gapMs, stopped))) return;
      try {
        await injectLight(ctx, step.fault);
      } catch (e) {
        // A light fault can meet a heavy one (no database to kill connections of): say so, go on.
        ctx.journal.say(`(${step.fault} not injected: ${e instanceof Error ? e.message : String(e)})`);
      }
    }
  })();
  await Promise.all([heavy, light]);
  return { skipped };
}
