/**
 * `--help` on every command and group, as an operator types it (child processes through tsx), and
 * the exit code 2 with the command's help for what it does not know. No database is touched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, type CliRun } from '../helpers/cli.js';

/** An unreachable database: help and usage errors must not need one. */
const jackpot = (args: readonly string[]): Promise<CliRun> =>
  runCli(args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

void test(
  '--help lists every command; each command --help gives usage, flags and an example',
  { timeout: 240_000 },
  async () => {
    const top = await jackpot(['--help']);
    assert.equal(top.code, 0, top.stderr);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z -]*?) {2,}\S/gm)].map((m) =>
      (m[1] ?? '').trim(),
    );
    assert.deepEqual(commands, [
      'keys create',
      'keys list',
      'keys revoke',
      'jackpots list',
      'jackpots put',
      'jackpots get',
      'meters',
      'fx set',
      'fx list',
      'positions rebase',
      'positions',
      'dead-letters list',
      'dead-letters redrive',
      'export',
      'report',
      'reconcile',
    ]);
    assert.deepEqual(await jackpot(['help']), top, '`help` is `--help`');
    for (const command of commands) {
      const words = command.split(' ');
      const r = await jackpot([...words, '--help']);
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: npm run jackpot -- ${command}( |\\n)`), command);
      assert.match(r.stdout, new RegExp(`\\nexample:\\n {2}npm run jackpot -- ${command}\\b`), command);
      assert.equal(r.stderr, '', command);
    }
    // Flags listed where a command has them.
    const redrive = await jackpot(['dead-letters', 'redrive', '-h']);
    for (const flag of [
      '--reason R',
      '--id ID1,ID2',
      '--since T',
      '--again',
      '--dry-run',
      '--yes',
      '--past-duplicate-window',
    ])
      assert.ok(redrive.stdout.includes(`\n  ${flag}`), flag);
  },
);

void test(
  'group help, and what is not a command or a flag exits 2 with help',
  { timeout: 120_000 },
  async () => {
    for (const args of [
      ['keys', '--help'],
      ['help', 'keys'],
    ]) {
      const r = await jackpot(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^usage: npm run jackpot -- keys <command>/);
      assert.match(r.stdout, /keys create {2,}/);
      assert.doesNotMatch(r.stdout, /jackpots list/);
    }
    const cases: { args: string[]; says: RegExp }[] = [
      { args: [], says: /^usage: npm run jackpot -- <command>/ },
      { args: ['frobnicate'], says: /^unknown command: frobnicate\n\nusage: npm run jackpot -- <command>/ },
      {
        args: ['dead-letters'],
        says: /^dead-letters needs a command\n\nusage: npm run jackpot -- dead-letters <command>/,
      },
      {
        args: ['dead-letters', 'list', '--bogus'],
        says: /^unknown flag --bogus\n\nusage: npm run jackpot -- dead-letters list /m,
      },
      { args: ['dead-letters', 'list', '--limit', '0'], says: /--limit must be an integer from 1 to 100000/ },
      { args: ['dead-letters', 'list', '--since', 'yesterday'], says: /--since must be an age/ },
      { args: ['dead-letters', 'redrive'], says: /give either --reason R or --id/ },
      {
        args: ['dead-letters', 'redrive', '--id', '1', '--since', '1h'],
        says: /--since and --again go with --reason/,
      },
      {
        args: ['dead-letters', 'redrive', '--reason', 'nope'],
        says: /--reason must be one of empty_payload, /,
      },
      { args: ['jackpots', 'list', '--json=yes'], says: /--json takes no value/ },
      { args: ['report', '--interval', '0'], says: /--interval must be an integer from 1 to 600/ },
      { args: ['report', '--aggregator'], says: /--aggregator needs a value/ },
      {
        args: ['export', '--from', '2026-11-30', '--to', '2026-12-01T00:00:00Z', '--format', 'csv'],
        says: /--from must be an RFC 3339/,
      },
    ];
    for (const c of cases) {
      const r = await jackpot(c.args);
      assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.says, c.args.join(' '));
      assert.equal(r.stdout, '', c.args.join(' '));
    }
  },
);
