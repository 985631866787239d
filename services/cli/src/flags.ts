/** Flag parsing shared by the operator's commands. */

export class UsageError extends Error {}

/**
 * `--name value` and `--name=value` flags, each at most once; anything else is a usage error.
 * Names in `switches` take no value (`--all-jackpots`) and map to `'true'` when given.
 */
export function parseFlags(
  args: readonly string[],
  allowed: readonly string[],
  switches: readonly string[] = [],
): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1] ?? '';
    const isSwitch = switches.includes(name);
    if (!allowed.includes(name) && !isSwitch) throw new UsageError(`unknown flag --${name}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    let value = m[2];
    if (isSwitch) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    if (value === undefined) {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    flags.set(name, value);
  }
  return flags;
}

/** `--limit`-style values: a whole number from `min` to `max`. */
export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

const AGE = /^(\d{1,6})(s|m|h|d)$/;
const AGE_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * `--since`: an age back from `nowMs` (`90s`, `30m`, `24h`, `7d`) or an RFC 3339 timestamp with
 * an offset. Returns the instant as an ISO string for Postgres.
 */
export function parseSince(value: string, nowMs: number): string {
  const age = AGE.exec(value);
  if (age !== null) {
    const unit = age[2] as keyof typeof AGE_MS;
    return new Date(nowMs - Number(age[1]) * AGE_MS[unit]).toISOString();
  }
  const ms = RFC3339.test(value) ? Date.parse(value.replace(' ', 'T')) : NaN;
  if (Number.isNaN(ms))
    throw new UsageError(
      `--since must be an age (30m, 24h, 7d) or an RFC 3339 timestamp such as 2026-11-30T00:00:00Z, got ${JSON.stringify(value)}`,
    );
  return new Date(ms).toISOString();
}
