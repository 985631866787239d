/**
 * The operator's command line: `npm run jackpot -- <command> [flags]`; `--help` after any command
 * (or group of commands, `keys --help`) says what it does, its flags and an example, and the
 * list below is `npm run jackpot -- --help`. Modules: keys.ts (API keys), operator.ts (jackpots,
 * meters, fx), positions.ts, dead-letters.ts, export.ts, report.ts, reconcile.ts.
 *
 * Exit codes: 0 done, 1 failed (database unreachable, mismatch found, refused), 2 bad usage
 * (an unknown command or flag, a missing or malformed value).
 * Settings: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/jackpot), KAFKA_BROKERS.
 *
 * A command is a row of `COMMANDS`: its words, its help and a `run(args)` returning the exit
 * code. Commands in modules of their own are imported only when they run, so one command's
 * dependencies never slow down or break another.
 */
import { toError } from '../../../shared/src/errors.js';
import { UsageError } from './flags.js';

interface Command {
  /** The words that select it, such as `keys create`. */
  readonly words: readonly string[];
  /** Its arguments after the words, such as `--id JACKPOT_ID [--json]`. */
  readonly usage: string;
  /** One line: what it does. */
  readonly summary: string;
  /** Each flag (or positional argument) and what it means. */
  readonly flags?: readonly (readonly [string, string])[];
  readonly example: string;
  /** `args` are what follows the command's words. Resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const USAGE_EXIT = 2;
const ISO = '2026-11-30T00:00:00Z';

const COMMANDS: readonly Command[] = [
  {
    words: ['keys', 'create'],
    usage: '--role game --name NAME (--jackpots J1,J2 | --all-jackpots)  |  --role admin --name NAME',
    summary:
      'creates an API key; the key alone is the last line of stdout (`| tail -n 1`), shown once, only its hash is stored',
    flags: [
      ['--role game|admin', 'game: wagers and wins; admin: the admin endpoints only'],
      ['--name NAME', 'who holds it (shown by keys list)'],
      ['--jackpots J1,J2', 'a game key: the jackpots its wagers and win claims may reach'],
      ['--all-jackpots', 'a game key without a jackpot scope'],
    ],
    example: 'keys create --role game --name "table-server-3" --jackpots eu-main',
    run: async (args) => (await import('./keys.js')).keysCreate(args),
  },
  {
    words: ['keys', 'list'],
    usage: '',
    summary: 'one line a key: id, role, name, scope, created, revoked (never the key itself)',
    example: 'keys list',
    run: async (args) => (await import('./keys.js')).keysList(args),
  },
  {
    words: ['keys', 'revoke'],
    usage: 'KEY_ID',
    summary: 'revokes a key: every gateway refuses it (401) within 5 s',
    flags: [['KEY_ID', 'the id keys list shows (not the key)']],
    example: 'keys revoke k_3f9a1c2b',
    run: async (args) => (await import('./keys.js')).keysRevoke(args),
  },
  {
    words: ['jackpots', 'list'],
    usage: '[--json]',
    summary: 'every jackpot with its currency, games and pools: tier, cycle, current amount and reserve',
    flags: [['--json', 'one JSON document instead of the table']],
    example: 'jackpots list --json',
    run: async (args) => (await import('./operator.js')).jackpotsList(args),
  },
  {
    words: ['jackpots', 'put'],
    usage: '--id JACKPOT_ID --file CONFIG.json',
    summary: 'creates or changes a jackpot (the admin API body, same validation and audit); prints it',
    flags: [
      ['--id JACKPOT_ID', 'the jackpot'],
      [
        '--file CONFIG.json',
        '{"currency", "pools": [...], "games": [...]} as for PUT /v1/admin/jackpots/{id}',
      ],
    ],
    example: 'jackpots put --id eu-main --file eu-main.json',
    run: async (args) => (await import('./operator.js')).jackpotsPut(args),
  },
  {
    words: ['jackpots', 'get'],
    usage: '--id JACKPOT_ID',
    summary: 'prints one jackpot as stored (JSON)',
    flags: [['--id JACKPOT_ID', 'the jackpot']],
    example: 'jackpots get --id eu-main',
    run: async (args) => (await import('./operator.js')).jackpotsGet(args),
  },
  {
    words: ['meters'],
    usage: '[--pool POOL_ID]',
    summary: "every pool's meters: amount, reserve, wagers, contributions, overflow, top-ups, hits, wins",
    flags: [['--pool POOL_ID', 'one pool only (JACKPOT_ID:TIER); exit 1 when there is none']],
    example: 'meters --pool eu-main:grand',
    run: async (args) => (await import('./operator.js')).meters(args),
  },
  {
    words: ['fx', 'set'],
    usage: '--from CUR --to CUR --rate-micro N',
    summary: 'sets a conversion rate: 1 minor unit of FROM = N / 1e6 minor units of TO',
    flags: [
      ['--from CUR', "the wager's currency (ISO 4217)"],
      ['--to CUR', "the jackpot's currency"],
      ['--rate-micro N', 'an integer from 1 to 1e12'],
    ],
    example: 'fx set --from USD --to EUR --rate-micro 920000',
    run: async (args) => (await import('./operator.js')).fxSet(args),
  },
  {
    words: ['fx', 'list'],
    usage: '',
    summary: 'every conversion rate and when it was set',
    example: 'fx list',
    run: async (args) => (await import('./operator.js')).fxList(args),
  },
  {
    words: ['positions', 'rebase'],
    usage: '--group GROUP [--topic TOPIC] --to earliest|latest [--yes]',
    summary:
      "moves the group's stored positions onto the topic as the broker has it now (a new broker or topic); asks first; audited",
    flags: [
      ['--group GROUP', "the aggregators' group (AGGREGATOR_GROUP_ID, default jackpot-aggregator)"],
      ['--topic TOPIC', 'default jackpot.wagers.v1'],
      [
        '--to earliest|latest',
        'apply everything the topic holds (duplicates count once) or only what arrives next',
      ],
      ['--yes', 'no question (needed without a terminal)'],
    ],
    example: 'positions rebase --group jackpot-aggregator --to earliest',
    run: async (args) => (await import('./positions.js')).positionsRebase(args),
  },
  {
    words: ['positions'],
    usage: '[--group GROUP] [--topic TOPIC]',
    summary:
      'stored positions against the topic, with the lag per partition; exit 1 when they do not belong to it',
    flags: [
      ['--group GROUP', 'default jackpot-aggregator'],
      ['--topic TOPIC', 'default jackpot.wagers.v1'],
    ],
    example: 'positions',
    run: async (args) => (await import('./positions.js')).positionsShow(args),
  },
  {
    words: ['dead-letters', 'list'],
    usage: '[--reason R] [--since T] [--limit N] [--json]',
    summary: 'dead letters, newest first: reason, message, event id, where they came from, whether re-driven',
    flags: [
      ['--reason R', 'one reason code (unknown_game, currency_mismatch, malformed_json, ...)'],
      ['--since T', `received at or after T: RFC 3339 (${ISO}) or an age (30m, 24h, 7d)`],
      ['--limit N', 'at most N rows, default 50'],
      ['--json', 'one JSON array (payloads as UTF-8 text and base64)'],
    ],
    example: 'dead-letters list --reason unknown_game --since 24h',
    run: async (args) => (await import('./dead-letters.js')).deadLettersList(args),
  },
  {
    words: ['dead-letters', 'redrive'],
    usage:
      '(--reason R [--since T] [--again] | --id ID1,ID2) [--limit N] [--dry-run] [--yes] [--past-duplicate-window]',
    summary:
      "after the cause is fixed, publishes the dead letters' original key and bytes to their topic again; a wager already applied counts once; audited",
    flags: [
      [
        '--reason R',
        'every dead letter of that reason not re-driven yet (unknown_game, currency_mismatch, unprocessable, occurred_at_in_future)',
      ],
      ['--since T', 'only those received at or after T (RFC 3339 or 30m, 24h, 7d)'],
      ['--again', 'with --reason: include those re-driven before'],
      ['--id ID1,ID2', 'exactly these dead letters (re-driven before or not)'],
      ['--limit N', 'at most N, default 100000'],
      ['--dry-run', 'shows what would be re-driven and stops'],
      ['--yes', 'no question (needed without a terminal)'],
      [
        '--past-duplicate-window',
        'also dead letters older than RETENTION_DUPLICATE_CHECK_DAYS (7): only after checking the ledger for their event ids, which the duplicate check may have forgotten',
      ],
    ],
    example: 'dead-letters redrive --reason unknown_game --since 24h --dry-run',
    run: async (args) => (await import('./dead-letters.js')).deadLettersRedrive(args),
  },
  {
    words: ['export'],
    usage: '--from T1 --to T2 --format csv|ndjson [--pool POOL_ID]',
    summary: 'the ledger rows with occurred_at in [T1, T2) to stdout, streamed (constant memory)',
    flags: [
      ['--from T1', `inclusive, RFC 3339 with an offset (${ISO})`],
      ['--to T2', 'exclusive'],
      ['--format csv|ndjson', 'csv has a header line'],
      ['--pool POOL_ID', 'one pool only'],
    ],
    example: `export --from ${ISO} --to 2026-12-01T00:00:00Z --format csv > ledger.csv`,
    run: async (args) => (await import('./export.js')).exportLedger(args),
  },
  {
    words: ['report'],
    usage: '[--aggregator URL,URL] [--projector URL] [--gateway URL] [--interval S] [--json]',
    summary:
      "health and performance: reads the services' /metrics twice, Kafka and Postgres, and names the current bottleneck with the numbers behind it",
    flags: [
      [
        '--aggregator URL,URL',
        'aggregator replicas (REPORT_AGGREGATOR_URLS, default http://127.0.0.1:8090,http://127.0.0.1:8091)',
      ],
      ['--projector URL', 'REPORT_PROJECTOR_URL, default http://127.0.0.1:8081'],
      ['--gateway URL', 'REPORT_GATEWAY_URL, default http://127.0.0.1:8080'],
      ['--group GROUP', "the aggregators' group, default jackpot-aggregator"],
      ['--topic TOPIC', 'default jackpot.wagers.v1'],
      ['--interval S', 'seconds between the two samples, default 5'],
      ['--json', 'the figures and the verdict as JSON'],
    ],
    example: 'report --interval 10',
    run: async (args) => (await import('./report.js')).report(args),
  },
  // `npm run reconcile` is `main.ts reconcile`, so it is reached through this table too.
  {
    words: ['reconcile'],
    usage: '[--quiet]',
    summary: "checks every pool's invariants against the ledger; exit 1 on a mismatch",
    flags: [['--quiet', 'only mismatches']],
    example: 'reconcile',
    run: async (args) => (await import('./reconcile.js')).runReconcile(args),
  },
];

const HELP_FLAGS = new Set(['--help', '-h']);

/** The list of commands (all, or those under a first word such as `keys`). */
function overview(under: readonly string[] = []): string {
  const shown = COMMANDS.filter((c) => under.every((w, i) => c.words[i] === w));
  const width = Math.max(...shown.map((c) => c.words.join(' ').length));
  return [
    `usage: npm run jackpot -- ${under.length > 0 ? under.join(' ') + ' ' : ''}<command> [flags]`,
    '',
    'commands:',
    ...shown.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    `help on one: npm run jackpot -- ${shown[0]?.words.join(' ') ?? 'keys create'} --help`,
    'exit codes: 0 done, 1 failed (unreachable, refused, mismatch), 2 bad usage',
    'settings: DATABASE_URL, KAFKA_BROKERS (and KAFKA_SSL*, KAFKA_SASL*), as the services read them',
    '',
  ].join('\n');
}

/** Help on one command: usage, flags, example. */
function commandHelp(c: Command): string {
  const width = Math.max(0, ...(c.flags ?? []).map(([f]) => f.length));
  return [
    `usage: npm run jackpot -- ${c.words.join(' ')}${c.usage === '' ? '' : ' ' + c.usage}`,
    '',
    c.summary,
    ...(c.flags === undefined
      ? []
      : ['', 'flags:', ...c.flags.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`)]),
    '',
    'example:',
    `  npm run jackpot -- ${c.example}`,
    '',
  ].join('\n');
}

/** The command named by the first words of `argv`, and the arguments after them. */
function findCommand(argv: readonly string[]): { command: Command; args: readonly string[] } | null {
  // Longest match first, so `positions rebase` wins over `positions`.
  const byLength = [...COMMANDS].sort((a, b) => b.words.length - a.words.length);
  for (const command of byLength) {
    if (command.words.every((w, i) => argv[i] === w))
      return { command, args: argv.slice(command.words.length) };
  }
  return null;
}

async function main(): Promise<number> {
  // `help keys` is `keys --help`.
  const leadingHelp = process.argv[2] === 'help';
  const argv = process.argv.slice(leadingHelp ? 3 : 2);
  const wantsHelp = leadingHelp || argv.some((a) => HELP_FLAGS.has(a));
  const found = findCommand(argv);
  if (found === null) {
    const words = argv.filter((a) => !HELP_FLAGS.has(a));
    const group = COMMANDS.some(
      (c) => c.words.length > words.length && words.every((w, i) => c.words[i] === w),
    );
    if (wantsHelp && group) {
      process.stdout.write(overview(words));
      return 0;
    }
    if (words.length === 0) {
      if (wantsHelp) {
        process.stdout.write(overview());
        return 0;
      }
      process.stderr.write(overview());
      return USAGE_EXIT;
    }
    process.stderr.write(
      group
        ? `${words.join(' ')} needs a command\n\n${overview(words)}`
        : `unknown command: ${argv.join(' ')}\n\n${overview()}`,
    );
    return USAGE_EXIT;
  }
  // `positions --help` is help on `positions`, never `positions` run with a flag it refuses.
  if (wantsHelp) {
    process.stdout.write(commandHelp(found.command));
    return 0;
  }
  try {
    return await found.command.run(found.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${commandHelp(found.command)}`);
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
