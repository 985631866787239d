/**
 * The operator's command line: `npm run jackpot -- <command> [flags]`.
 *
 *   keys create | list | revoke                 API keys (services/cli/src/keys.ts); a created key
 *                                               alone is the last line of stdout (so `| tail -n 1`
 *                                               captures it), the rest goes to stderr
 *   jackpots put|get, meters, fx set|list       configuration and meters (services/cli/src/operator.ts)
 *   positions [rebase]                          the aggregators' stored positions against the topic, and
 *                                               moving them onto a new topic (services/cli/src/positions.ts)
 *   export --from T1 --to T2 --format F [--pool] the ledger rows with occurred_at in [T1, T2), csv or
 *                                               ndjson, streamed to stdout (services/cli/src/export.ts)
 *   reconcile [--quiet]                         checks every pool's invariants (services/cli/src/reconcile.ts)
 *
 * Exit codes: 0 done, 1 failed (database unreachable, mismatch found), 2 bad usage.
 * Settings: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/jackpot).
 *
 * A command is a row of `COMMANDS`: its words, a usage line and a `run(args)` returning the exit
 * code. Commands in modules of their own are imported only when they run, so one command's
 * dependencies never slow down or break another.
 */
import { toError } from '../../../shared/src/errors.js';
import { UsageError } from './flags.js';

interface Command {
  /** The words that select it, such as `keys create`. */
  readonly words: readonly string[];
  readonly usage: string;
  /** `args` are what follows the command's words. Resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const USAGE_EXIT = 2;

const COMMANDS: readonly Command[] = [
  {
    words: ['keys', 'create'],
    usage:
      'keys create --role game --name NAME (--jackpots J1,J2 | --all-jackpots)   or   keys create --role admin --name NAME',
    run: async (args) => (await import('./keys.js')).keysCreate(args),
  },
  {
    words: ['keys', 'list'],
    usage: 'keys list   (one line a key: id, role, name, scope, created, revoked; never the key itself)',
    run: async (args) => (await import('./keys.js')).keysList(args),
  },
  {
    words: ['keys', 'revoke'],
    usage: 'keys revoke KEY_ID   (every gateway refuses the key within 5 s)',
    run: async (args) => (await import('./keys.js')).keysRevoke(args),
  },
  {
    words: ['jackpots', 'put'],
    usage:
      'jackpots put --id JACKPOT_ID --file CONFIG.json   (the admin API body; prints the stored configuration)',
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
    usage:
      'fx set --from USD --to EUR --rate-micro 920000   (1 minor unit of FROM = rate / 1e6 minor units of TO)',
    run: async (args) => (await import('./operator.js')).fxSet(args),
  },
  {
    words: ['fx', 'list'],
    usage: 'fx list',
    run: async (args) => (await import('./operator.js')).fxList(args),
  },
  {
    words: ['positions', 'rebase'],
    usage:
      'positions rebase --group GROUP [--topic TOPIC] --to earliest|latest [--yes]   (moves the stored positions onto the topic as the broker has it now; asks first)',
    run: async (args) => (await import('./positions.js')).positionsRebase(args),
  },
  {
    words: ['positions'],
    usage:
      'positions [--group GROUP] [--topic TOPIC]   (stored positions against the topic; exit 1 when they do not belong to it)',
    run: async (args) => (await import('./positions.js')).positionsShow(args),
  },
  {
    words: ['export'],
    usage:
      'export --from T1 --to T2 --format csv|ndjson [--pool POOL_ID]   (ledger rows with occurred_at in [T1, T2), RFC 3339 bounds, to stdout)',
    run: async (args) => (await import('./export.js')).exportLedger(args),
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
