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
