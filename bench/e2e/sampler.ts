/**
 * Samples the CPU and resident memory of every process of the pipeline from `/proc` every
 * `intervalMs` while the benchmark runs, so each step can report CPU seconds and peak RSS per
 * process: the services (by pid), the Kafka broker, this process (the load generator), and the
 * Postgres server's processes, classified with `pg_stat_activity` as
 *
 * - `ours`: backends (and autovacuum workers) of the benchmark's own database;
 * - `background`: the server's shared processes (walwriter, checkpointer, background writer, the
 *   launchers, the logger): they work for every database, on a quiet machine mostly for ours;
 * - and the whole server: the postmaster's own CPU plus its reaped children's (`cutime`) plus
 *   its live children's, which also counts other users' databases on a shared server.
 *
 * A process that exits between two samples loses at most one period of CPU from its group (not
 * from the server's total, which the postmaster's `cutime` carries).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { cpuSeconds, ownTicks, parseProcStat, treeTicks, type ProcStat } from './proc-stat.js';

export type PgClass = 'ours' | 'background' | 'other';

export interface ProcessFigure {
  readonly name: string;
  readonly cpuSeconds: number;
  /** Largest resident set seen during the step, MB (for a Postgres group: its largest process). */
  readonly peakRssMb: number;
}

export interface StepMark {
  readonly ticks: ReadonlyMap<number, number>;
  readonly alive: ReadonlySet<number>;
  readonly postmasterTree: number;
  readonly at: number;
}

export interface Sampler {
  /** Follows a process under `name` (a replaced replica under the same name counts in the sum). */
  track(name: string, pid: number): void;
  untrack(name: string): void;
  /** Starts a step: resets the peaks and remembers the counters. */
  mark(): Promise<StepMark>;
  /** CPU seconds and peak RSS per tracked process and Postgres group since `mark`. */
  figures(mark: StepMark): Promise<ProcessFigure[]>;
  stop(): Promise<void>;
  readonly ticksPerSecond: number;
}

function getconf(name: string, fallback: number): number {
  try {
    const n = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The children of `pid`: from /proc/<pid>/task/*\/children when the kernel has it, else a scan. */
function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of readdirSync(`/proc/${pid}/task`))
      for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
        if (c !== '') out.push(Number(c));
    return out;
  } catch {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const s = readStat(Number(d));
      if (s?.ppid === pid) out.push(s.pid);
    }
    return out;
  }
}

const BACKGROUND_TYPES = new Set([
  'checkpointer',
  'background writer',
  'walwriter',
  'autovacuum launcher',
  'logical replication launcher',
  'archiver',
  'startup',
]);

export async function createSampler(opts: {
  /** A connection pool to the benchmark's database (superuser: sees every backend's pid). */
  db: pg.Pool;
  database: string;
  intervalMs: number;
}): Promise<Sampler> {
  const ticksPerSecond = getconf('CLK_TCK', 100);
  const pageBytes = getconf('PAGESIZE', 4096);
  const named = new Map<string, Set<number>>();
  // Last value seen of every pid ever sampled (exited ones keep their last value).
  const lastTicks = new Map<number, number>();
  const peakRss = new Map<string, number>();
  const pgClass = new Map<number, PgClass>();
  const exitedClass = new Map<number, PgClass>();
  let pgAlive = new Set<number>();
  let postmasterTree = 0;

  const backendPid = Number(
    (await opts.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid,
  );
  const postmaster = readStat(backendPid)?.ppid;

  const classify = async (): Promise<void> => {
    const rows = await opts.db.query<{ pid: number; datname: string | null; backend_type: string }>(
      'SELECT pid, datname, backend_type FROM pg_stat_activity',
    );
    for (const r of rows.rows) {
      if (pgClass.has(r.pid)) continue;
      pgClass.set(
        r.pid,
        r.datname === opts.database
          ? 'ours'
          : r.datname === null || BACKGROUND_TYPES.has(r.backend_type)
            ? 'background'
            : 'other',
      );
    }
  };

  const bump = (key: string, rssPages: number): void => {
    const bytes = rssPages * pageBytes;
    if (bytes > (peakRss.get(key) ?? 0)) peakRss.set(key, bytes);
  };

  const sample = (): void => {
    for (const [name, pids] of named) {
      for (const pid of pids) {
        const s = readStat(pid);
        if (s === null) continue;
        lastTicks.set(pid, ownTicks(s));
        bump(name, s.rssPages);
      }
    }
    if (postmaster === undefined) return;
    const p = readStat(postmaster);
    if (p !== null) postmasterTree = treeTicks(p);
    const alive = new Set<number>();
    for (const pid of childrenOf(postmaster)) {
      const s = readStat(pid);
      if (s === null) continue;
      alive.add(pid);
      lastTicks.set(pid, ownTicks(s));
      // Unclassified yet (born since the last query): counted with the server, grouped at the next query.
      const c = pgClass.get(pid);
      if (c !== undefined) bump(`postgres:${c}`, s.rssPages);
    }
    // An exited process keeps its class until the next mark, so the step that saw it counts it.
    for (const pid of pgAlive) {
      if (alive.has(pid)) continue;
      const c = pgClass.get(pid);
      if (c !== undefined) exitedClass.set(pid, c);
      pgClass.delete(pid);
    }
    pgAlive = alive;
  };

  let querying = false;
  let stopped = false;
  const tick = (): void => {
    sample();
    if (querying || stopped) return;
    querying = true;
    classify()
      .catch(() => undefined)
      .finally(() => {
        querying = false;
      });
  };
  await classify();
  sample();
  const timer = setInterval(tick, opts.intervalMs);

  const pidsOf = (cls: PgClass): number[] => {
    const out: number[] = [];
    for (const [pid, c] of pgClass) if (c === cls) out.push(pid);
    for (const [pid, c] of exitedClass) if (c === cls) out.push(pid);
    return out;
  };

  return {
    ticksPerSecond,
    track(name, pid) {
      const set = named.get(name) ?? new Set<number>();
      set.add(pid);
      named.set(name, set);
    },
    untrack(name) {
      named.delete(name);
    },
    async mark() {
      await classify().catch(() => undefined);
      sample();
      peakRss.clear();
      exitedClass.clear();
      return {
        ticks: new Map(lastTicks),
        alive: new Set(pgAlive),
        postmasterTree,
        at: performance.now(),
      };
    },
    async figures(mark) {
      sample();
      await classify().catch(() => undefined);
      const out: ProcessFigure[] = [];
      const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
      for (const [name, pids] of named)
        out.push({
          name,
          cpuSeconds: round3(cpuSeconds(mark.ticks, lastTicks, pids, ticksPerSecond)),
          peakRssMb: mb(peakRss.get(name) ?? 0),
        });
      if (postmaster !== undefined) {
        for (const cls of ['ours', 'background'] as const)
          out.push({
            name: cls === 'ours' ? 'postgres (our database)' : 'postgres (background)',
            cpuSeconds: round3(cpuSeconds(mark.ticks, lastTicks, pidsOf(cls), ticksPerSecond)),
            peakRssMb: mb(peakRss.get(`postgres:${cls}`) ?? 0),
          });
        // The whole server: the postmaster with its reaped children, plus the live children's
        // CPU since the mark, less what the children that exited since had already spent at it
        // (their whole life reached cutime when they were reaped).
        let ticks = postmasterTree - mark.postmasterTree;
        for (const pid of pgAlive) ticks += (lastTicks.get(pid) ?? 0) - (mark.ticks.get(pid) ?? 0);
        for (const pid of mark.alive) if (!pgAlive.has(pid)) ticks -= mark.ticks.get(pid) ?? 0;
        out.push({
          name: 'postgres (whole server)',
          cpuSeconds: round3(Math.max(0, ticks) / ticksPerSecond),
          peakRssMb: 0,
        });
      }
      return out;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (querying) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
