/**
 * The services as real processes (their build, `node dist/services/<name>/src/main.js`, as the
 * stack and the image run them; the caller builds first: infra/build.ts), supervised the way an
 * orchestrator would: a replica that dies is replaced after a moment, a gateway or projector that
 * dies is restarted on its port. Every exit is classified (ours: killed or stopped; the
 * aggregator's own fault points; anything else is a crash) and kept for the summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_ENV, serviceArgs } from '../../infra/build.js';
import { REPO_ROOT } from '../../infra/paths.js';
import { answersReady, freePort, sleep, tailFile } from '../../infra/processes.js';
import type { Rng } from '../../loadgen/src/random.js';
import type { Journal } from './journal.js';

export type ServiceKind = 'aggregator' | 'ingest' | 'projector';

/**
 * - `killed`: our SIGKILL; `stopped`: our SIGTERM, exit 0; `unclean stop`: our SIGTERM, another end;
 * - `fault point`: a SIGKILL nobody here sent, from a replica started with AGGREGATOR_FAULT_POINTS;
 * - `start failed`: exited on its own before it was ever ready (e.g. Postgres down at its start);
 * - `crash`: exited on its own after it was ready, a finding.
 */
export type ExitCause = 'killed' | 'stopped' | 'unclean stop' | 'fault point' | 'start failed' | 'crash';

export interface ExitRecord {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly code: number | null;
  readonly signal: string | null;
  readonly cause: ExitCause;
  /** The fault point named in the replica's last log lines, when it says. */
  readonly point: string | null;
  readonly atSeconds: number;
  readonly logTail: string;
  /** Its last error lines (`whyExited`). */
  readonly why: string;
  readonly logFile: string;
}

export interface ServiceProcess {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  readonly faultPoints: string | null;
  readonly startedAtSeconds: number;
  ready: boolean;
  paused: boolean;
  /** The signal we sent to end it, if we did. */
  ending: 'SIGKILL' | 'SIGTERM' | null;
  exit: ExitRecord | null;
  readonly exited: Promise<ExitRecord>;
}

export interface SupervisorOptions {
  /** Settings every service gets (database, brokers, topics, group). */
  readonly env: Readonly<Record<string, string>>;
  readonly logDir: string;
  readonly journal: Journal;
  readonly rng: Rng;
  /** `AGGREGATOR_FAULT_POINTS` for the replicas that get it. */
  readonly faultPoints: string;
  /** Share of replica starts that get fault points. */
  readonly faultPointShare: number;
}

export interface Supervisor {
  start(kind: 'ingest' | 'projector'): Promise<ServiceProcess>;
  /** Sets the number of aggregator replicas; resolves when that many are ready and the extra ones (SIGTERM) have exited. */
  scaleTo(replicas: number, timeoutMs?: number): Promise<void>;
  /**
   * One more replica beyond the target, with the given AGGREGATOR_FAULT_POINTS: when it dies it is
   * not replaced (the others are the target).
   */
  startExtraReplica(faultPoints: string | null): Promise<ServiceProcess>;
  /** SIGTERM one replica; resolves with how it ended. */
  stop(proc: ServiceProcess): Promise<ExitRecord>;
  /** Live replicas (started, not exited, not being stopped), paused ones included. */
  replicas(): ServiceProcess[];
  service(kind: 'ingest' | 'projector'): ServiceProcess;
  kill(proc: ServiceProcess): void;
  pause(proc: ServiceProcess): void;
  resume(proc: ServiceProcess): void;
  exits(): readonly ExitRecord[];
  /** Processes started, by kind (restarts included). */
  starts(): Readonly<Record<ServiceKind, number>>;
  /** Stops replacing what dies and ends any `scaleTo` wait: the run is over or interrupted. */
  interrupt(): void;
  /** SIGTERM everything (SIGCONT first), SIGKILL what is left after `graceMs`. */
  stopAll(graceMs?: number): Promise<void>;
  /** Synchronous SIGKILL of everything still running: for exit handlers. */
  killAllNow(): void;
}

const ARGS: Record<ServiceKind, string[]> = {
  aggregator: serviceArgs('services/aggregator/src/main.ts'),
  ingest: serviceArgs('services/ingest/src/main.ts'),
  projector: serviceArgs('services/projector/src/main.ts'),
};
const PORT_ENV: Record<ServiceKind, string> = {
  aggregator: 'AGGREGATOR_PORT',
  ingest: 'INGEST_PORT',
  projector: 'PROJECTOR_PORT',
};

/**
 * What a process said as it died: the error lines of an uncaught error (message, where it was
 * emitted, SQLSTATE), or its fatal log lines, or else its last line.
 */
export function whyExited(tail: string): string {
  const picked: string[] = [];
  let last = '';
  for (const raw of tail.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    last = line;
    let said: string | null = null;
    if (line.startsWith('{')) {
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: unknown; err?: unknown };
        if ((entry.level ?? 0) >= 60)
          said = `${String(entry.msg)}${entry.err === undefined ? '' : `: ${JSON.stringify(entry.err).slice(0, 200)}`}`;
      } catch {
        said = null;
      }
    } else if (/^(\w*Error\b|error:|Emitted 'error'|code: '|.*failed to start)/.test(line)) said = line;
    if (said !== null && !picked.includes(said)) picked.push(said);
  }
  return (picked.slice(-4).join(' | ') || last || '(nothing in its log)').slice(0, 600);
}

/** The fault point a replica names in its last lines before killing itself, if it does. */
function pointIn(tail: string): string | null {
  return /\b(after_copy|after_commit)\b/.exec(tail)?.[1] ?? null;
}

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const { journal } = opts;
  mkdirSync(opts.logDir, { recursive: true });
  const all: ServiceProcess[] = [];
  const history: ExitRecord[] = [];
  const fixed = new Map<'ingest' | 'projector', ServiceProcess>();
  let replicaTarget = 0;
  let replicaSeq = 0;
  let nextReplicaStartAt = 0;
  let closing = false;
  const startsCount: Record<ServiceKind, number> = { aggregator: 0, ingest: 0, projector: 0 };

  function spawnService(
    kind: ServiceKind,
    name: string,
    port: number,
    faultPoints: string | null,
  ): ServiceProcess {
    const logFile = join(opts.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    writeSync(
      fd,
      `\n=== chaos: starting ${name} at +${journal.seconds().toFixed(1)} s${faultPoints === null ? '' : ` with AGGREGATOR_FAULT_POINTS=${faultPoints}`}\n`,
    );
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ARGS[kind], {
        cwd: REPO_ROOT,
        env: {
          ...SERVICE_ENV,
          ...process.env,
          LOG_LEVEL: 'info',
          ...opts.env,
          ...(faultPoints === null ? {} : { AGGREGATOR_FAULT_POINTS: faultPoints }),
          [PORT_ENV[kind]]: String(port),
        },
        // Its own process group: a Ctrl-C meant for the suite reaches the suite, which cleans up.
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${name}: node did not start`);
    startsCount[kind]++;
    let resolveExit: (r: ExitRecord) => void = () => undefined;
    const proc: ServiceProcess = {
      name,
      kind,
      port,
      pid,
      logFile,
      faultPoints,
      startedAtSeconds: journal.seconds(),
      ready: false,
      paused: false,
      ending: null,
      exit: null,
      exited: new Promise<ExitRecord>((r) => {
        resolveExit = r;
      }),
    };
    child.once('exit', (code, signal) => {
      const tail = tailFile(logFile, 40);
      const cause: ExitCause =
        proc.ending === 'SIGKILL'
          ? 'killed'
          : proc.ending === 'SIGTERM'
            ? // Before it was ready it may not have installed its handlers yet: SIGTERM's default ends it.
              code === 0 || !proc.ready
              ? 'stopped'
              : 'unclean stop'
            : signal === 'SIGKILL' && faultPoints !== null
              ? 'fault point'
              : proc.ready
                ? 'crash'
                : 'start failed';
      const record: ExitRecord = {
        name,
        kind,
        code,
        signal,
        cause,
        point: cause === 'fault point' ? pointIn(tail) : null,
        atSeconds: journal.seconds(),
        logTail: tail,
        why: whyExited(tail),
        logFile,
      };
      proc.exit = record;
      history.push(record);
      const how = signal ?? `code ${String(code)}`;
      if (cause === 'fault point')
        journal.say(
          `${name} killed itself at a fault point${record.point === null ? '' : ` (${record.point})`} (${how})`,
        );
      else if (cause === 'crash' || cause === 'unclean stop')
        journal.say(
          `${name} ${cause === 'crash' ? 'DIED on its own' : 'did not stop cleanly'} (${how}): ${record.why} (see ${logFile})`,
        );
      else if (cause === 'start failed')
        journal.say(`${name} exited before it was ready (${how}): ${record.why}`);
      else if (cause === 'stopped') journal.say(`${name} stopped (exit 0)`);
      if (kind === 'aggregator') nextReplicaStartAt = Date.now() + 500 + opts.rng.below(2500);
      resolveExit(record);
    });
    all.push(proc);
    void (async () => {
      while (proc.exit === null && !proc.ready) {
        if (await answersReady(port)) {
          proc.ready = true;
          journal.say(
            `${name} ready (pid ${pid}, port ${port}, ${(journal.seconds() - proc.startedAtSeconds).toFixed(1)} s after start)`,
          );
        } else await sleep(300);
      }
    })();
    journal.say(`${name} started (pid ${pid}${faultPoints === null ? '' : `, fault points ${faultPoints}`})`);
    return proc;
  }

  /** `faultPoints` undefined: the background share decides. */
  async function startReplica(faultPoints?: string | null): Promise<ServiceProcess> {
    const port = await freePort();
    const withFaults =
      faultPoints !== undefined
        ? faultPoints
        : opts.rng.float() < opts.faultPointShare
          ? opts.faultPoints
          : null;
    return spawnService('aggregator', `agg-${++replicaSeq}`, port, withFaults);
  }

  const live = (): ServiceProcess[] =>
    all.filter((p) => p.kind === 'aggregator' && p.exit === null && p.ending === null);

  // The orchestrator: replaces what died, a moment later.
  let starting = 0;
  const watchdog = setInterval(() => {
    if (closing) return;
    for (const [kind, proc] of fixed) {
      if (proc.exit !== null && proc.ending === null && proc.exit.atSeconds + 1 < journal.seconds()) {
        fixed.set(kind, spawnService(kind, kind, proc.port, null));
      }
    }
    if (live().length + starting < replicaTarget && Date.now() >= nextReplicaStartAt) {
      starting++;
      void startReplica().finally(() => {
        starting--;
      });
    }
  }, 250);

  function signal(proc: ServiceProcess, sig: NodeJS.Signals): void {
    try {
      process.kill(proc.pid, sig);
    } catch {
      // already gone: its exit event tells
    }
  }

  return {
    async start(kind) {
      const proc = spawnService(kind, kind, await freePort(), null);
      fixed.set(kind, proc);
      return proc;
    },

    async scaleTo(replicas, timeoutMs = 90_000) {
      replicaTarget = replicas;
      const extra = live().length - replicas;
      const stopping: Promise<ExitRecord>[] = [];
      if (extra > 0) {
        // Which ones leave is random among the ready ones (then the starting ones); a paused one is
        // never chosen (it could not hear SIGTERM).
        const ready = live().filter((p) => !p.paused && p.ready);
        const candidates = ready.length >= extra ? ready : live().filter((p) => !p.paused);
        for (let i = 0; i < extra && candidates.length > 0; i++) {
          const [proc] = candidates.splice(opts.rng.below(candidates.length), 1);
          if (proc === undefined) break;
          proc.ending = 'SIGTERM';
          signal(proc, 'SIGTERM');
          stopping.push(proc.exited);
        }
      }
      nextReplicaStartAt = 0;
      const deadline = Date.now() + timeoutMs;
      await Promise.all(stopping);
      while (!closing && live().filter((p) => p.ready).length < replicas && Date.now() < deadline)
        await sleep(200);
    },

    async startExtraReplica(faultPoints) {
      replicaTarget++;
      const proc = await startReplica(faultPoints);
      // Not replaced when it dies: the target goes back down as soon as it exits.
      void proc.exited.then(() => {
        replicaTarget--;
      });
      return proc;
    },
    stop(proc) {
      if (proc.paused) this.resume(proc);
      proc.ending = 'SIGTERM';
      signal(proc, 'SIGTERM');
      return proc.exited;
    },
    replicas: live,
    service(kind) {
      const proc = fixed.get(kind);
      if (proc === undefined) throw new Error(`${kind} was never started`);
      return proc;
    },
    kill(proc) {
      proc.ending = 'SIGKILL';
      signal(proc, 'SIGKILL');
    },
    pause(proc) {
      proc.paused = true;
      signal(proc, 'SIGSTOP');
    },
    resume(proc) {
      proc.paused = false;
      signal(proc, 'SIGCONT');
    },
    exits: () => history,
    interrupt() {
      closing = true;
    },
    starts: () => ({ ...startsCount }),

    async stopAll(graceMs = 35_000) {
      closing = true;
      clearInterval(watchdog);
      const running = all.filter((p) => p.exit === null);
      // The gateway first, so nothing new arrives while the consumers finish their windows.
      for (const group of [
        running.filter((p) => p.kind === 'ingest'),
        running.filter((p) => p.kind !== 'ingest'),
      ]) {
        for (const p of group) {
          if (p.paused) this.resume(p);
          if (p.ending === null) {
            p.ending = 'SIGTERM';
            signal(p, 'SIGTERM');
          }
        }
        await Promise.race([Promise.all(group.map((p) => p.exited)), sleep(graceMs)]);
      }
      for (const p of all.filter((q) => q.exit === null)) {
        journal.say(`${p.name} still running ${graceMs / 1000} s after SIGTERM; SIGKILL`);
        signal(p, 'SIGKILL');
      }
      await Promise.race([Promise.all(all.map((p) => p.exited)), sleep(5000)]);
    },

    killAllNow() {
      closing = true;
      clearInterval(watchdog);
      for (const p of all) if (p.exit === null) signal(p, 'SIGKILL');
    },
  };
}
