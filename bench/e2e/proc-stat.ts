/**
 * CPU and memory accounting from Linux's `/proc/<pid>/stat`, pure: parsing one line, and the CPU
 * a group of processes spent between two samples. The sampler (`sampler.ts`) does the reading.
 *
 * Why /proc and not `process.cpuUsage()`: the benchmark accounts for every process of the
 * pipeline, the Kafka broker (a JVM) and the Postgres backends included, from outside them.
 */

export interface ProcStat {
  readonly pid: number;
  /** The executable's name as the kernel keeps it (at most 15 characters), without the parentheses. */
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  /** User and system CPU of the process itself, in clock ticks (`CLK_TCK`, 100 on Linux). */
  readonly utime: number;
  readonly stime: number;
  /** CPU of its children that exited and were waited for (the postmaster's reaped backends). */
  readonly cutime: number;
  readonly cstime: number;
  /** Resident pages. */
  readonly rssPages: number;
}

/**
 * One `/proc/<pid>/stat` line. The command name sits in parentheses and may itself hold spaces
 * and parentheses (`(postgres: walwriter)`), so the fields are counted from the last `)`.
 * Returns null for anything that is not such a line.
 */
export function parseProcStat(line: string): ProcStat | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(line.slice(0, open).trim());
  // Fields 3 onwards (state, ppid, …), numbered as in proc(5): field n is rest[n - 3].
  const rest = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  if (!Number.isInteger(pid) || rest.length < 22) return null;
  const field = (n: number): number => Number(rest[n - 3]);
  const out: ProcStat = {
    pid,
    comm: line.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    rssPages: field(24),
  };
  const numbers = [out.ppid, out.utime, out.stime, out.cutime, out.cstime, out.rssPages];
  return numbers.every((n) => Number.isFinite(n) && n >= 0) ? out : null;
}

/** CPU ticks of the process itself (not its children). */
export const ownTicks = (s: Pick<ProcStat, 'utime' | 'stime'>): number => s.utime + s.stime;

/** CPU ticks of the process and of its exited, reaped children: for a server such as the postmaster. */
export const treeTicks = (s: Pick<ProcStat, 'utime' | 'stime' | 'cutime' | 'cstime'>): number =>
  s.utime + s.stime + s.cutime + s.cstime;

/**
 * CPU seconds a group of processes spent between a start and an end sample (ticks per pid). A pid
 * absent at the start was born during the interval and counts from zero; a pid absent at the end
 * exited, and counts up to its last sample (the sampler keeps it), so at most one sampling period
 * of a short-lived process is missed. A counter that went down (a pid reused) counts from zero.
 */
export function cpuSeconds(
  start: ReadonlyMap<number, number>,
  end: ReadonlyMap<number, number>,
  pids: Iterable<number>,
  ticksPerSecond: number,
): number {
  let ticks = 0;
  for (const pid of new Set(pids)) {
    const b = end.get(pid);
    if (b === undefined) continue;
    const a = start.get(pid) ?? 0;
    ticks += b >= a ? b - a : b;
  }
  return ticks / ticksPerSecond;
}

/** CPU seconds per 10,000 wagers, and µs per wager (the two say the same; the budget is in µs). */
export function perWager(
  seconds: number,
  wagers: number,
): { cpuSecondsPer10k: number; cpuUsPerWager: number } {
  if (!(wagers > 0)) return { cpuSecondsPer10k: 0, cpuUsPerWager: 0 };
  return {
    cpuSecondsPer10k: Math.round((seconds / wagers) * 10_000 * 1000) / 1000,
    cpuUsPerWager: Math.round((seconds / wagers) * 1e6 * 10) / 10,
  };
}
