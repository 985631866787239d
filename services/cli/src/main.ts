/**
 * The operator's command line: `npm run jackpot -- <command> [flags]`.
 *
 *   keys create --role game|admin --name NAME   creates an API key; the key alone is the last line
 *                                               of stdout (so `| tail -n 1` captures it), the rest
 *                                               goes to stderr
 *   reconcile [--quiet]                         checks every pool's invariants (services/cli/src/reconcile.ts)
 *
 * Exit codes: 0 done, 1 failed (database unreachable, mismatch found), 2 bad usage.
 * Settings: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/jackpot).
 *
 * A command is a row of `COMMANDS`: its words, a usage line and a `run(args)` returning the exit
 * code. Commands in modules of their own are imported only when they run, so one command's
 * dependencies never slow down or break another.
 */
import { API_KEY_ROLES, createApiKey, type ApiKeyRole } from '../../../shared/src/api-keys.js';
import { commonConfig } from '../../../shared/src/config.js';
import { createPool } from '../../../shared/src/db.js';
import { AppError, toError } from '../../../shared/src/errors.js';

interface Command {
  /** The words that select it, such as `keys create`. */
  readonly words: readonly string[];
  readonly usage: string;
  /** `args` are what follows the command's words. Resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const USAGE_EXIT = 2;

class UsageError extends Error {}

/**
 * `--name value` and `--name=value` flags, each at most once; anything else is a usage error.
 */
function parseFlags(args: readonly string[], allowed: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1] ?? '';
    if (!allowed.includes(name)) throw new UsageError(`unknown flag --${name}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    let value = m[2];
    if (value === undefined) {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    flags.set(name, value);
  }
  return flags;
}

async function keysCreate(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['role', 'name']);
  const role = flags.get('role');
  const name = flags.get('name');
  if (role === undefined || name === undefined) throw new UsageError('--role and --name are required');
  if (!(API_KEY_ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${API_KEY_ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  }
  const { databaseUrl } = commonConfig(process.env);
  const pool = createPool(databaseUrl, { max: 1, applicationName: 'jackpot-cli' });
  try {
    const { keyId, key } = await createApiKey(pool, { role: role as ApiKeyRole, name });
    process.stderr.write(`created ${role} key ${keyId} (${name}); it is shown once, store it now:\n`);
    process.stdout.write(`${key}\n`);
    return 0;
  } catch (e) {
    // A bad name is the operator's input: usage, not failure.
    if (e instanceof AppError && e.code === 'INVALID_INPUT') throw new UsageError(e.message);
    throw e;
  } finally {
    await pool.end();
  }
}

const COMMANDS: readonly Command[] = [
  {
    words: ['keys', 'create'],
    usage: 'keys create --role game|admin --name NAME',
    run: keysCreate,
  },
  // Reconciliation lives in its own module (another engineer's); `npm run reconcile` is
  // `main.ts reconcile`, so it is reached through this table too.
  {
    words: ['reconcile'],
    usage: 'reconcile [--quiet]',
    run: async (args) => (await import('./reconcile.js')).runReconcile(args),
  },
];

function usage(): string {
  return [
    'usage: npm run jackpot -- <command>',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.usage}`),
    '',
  ].join('\n');
}

/** The command named by the first words of `argv`, and the arguments after them. */
function findCommand(argv: readonly string[]): { command: Command; args: readonly string[] } | null {
  // Longest match first, so `keys create` wins over a future `keys`.
  const byLength = [...COMMANDS].sort((a, b) => b.words.length - a.words.length);
  for (const command of byLength) {
    if (command.words.every((w, i) => argv[i] === w))
      return { command, args: argv.slice(command.words.length) };
  }
  return null;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const found = findCommand(argv);
  if (found === null) {
    process.stderr.write(argv.length === 0 ? usage() : `unknown command: ${argv.join(' ')}\n\n${usage()}`);
    return USAGE_EXIT;
  }
  try {
    return await found.command.run(found.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\nusage: npm run jackpot -- ${found.command.usage}\n`);
    return USAGE_EXIT;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`jackpot: ${toError(e).message}\n`);
    process.exitCode = 1;
  },
);
