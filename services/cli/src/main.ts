/**
 * The operator's command line: `npm run jackpot -- <command> [flags]`.
 *
 *   keys create --role game|admin --name NAME   creates an API key; the key alone is the last line
 *                                               of stdout (so `| tail -n 1` captures it), the rest
 *                                               goes to stderr
 *   jackpots put|get, meters, fx set|list       configuration and meters (services/cli/src/operator.ts)
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
import { parseFlags, UsageError } from './flags.js';

interface Command {
  /** The words that select it, such as `keys create`. */
  readonly words: readonly string[];
  readonly usage: string;
  /** `args` are what follows the command's words. Resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const USAGE_EXIT = 2;

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
  {
    words: ['jackpots', 'put'],
    usage: 'jackpots put --id JACKPOT_ID --file CONFIG.json   (the admin API body; prints the stored configuration)',
    run: async (args) => (await import('./operator.js')).jackpotsPut(args),
  },
  {
    words: ['jackpots', 'get'],
    usage: 'jackpots get --id JACKPOT_ID',
    run: async (args) => (await import('./operator.js')).jackpotsGet(args),
  },
  {
    words: ['meters'],
    usage: 'meters [--pool POOL_ID]',
    run: async (args) => (await import('./operator.js')).meters(args),
  },
  {
    words: ['fx', 'set'],
    usage: 'fx set --from USD --to EUR --rate-micro 920000   (1 minor unit of FROM = rate / 1e6 minor units of TO)',
    run: async (args) => (await import('./operator.js')).fxSet(args),
  },
  {
    words: ['fx', 'list'],
    usage: 'fx list',
    run: async (args) => (await import('./operator.js')).fxList(args),
  },
  // `npm run reconcile` is `main.ts reconcile`, so it is reached through this table too.
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
