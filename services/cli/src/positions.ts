/**
 * `positions` and `positions rebase`: the consumer positions Postgres holds for the aggregators,
 * judged against the topic as the broker has it now, and the operator's way out when they do not
 * belong to it (a new broker, a recreated topic, a failover): move the group onto the topic, after
 * confirmation. The aggregators check again every few seconds and go on by themselves.
 */
import { createInterface } from 'node:readline/promises';
import { hostname, userInfo } from 'node:os';
import { commonConfig } from '../../../shared/src/config.js';
import { createPool } from '../../../shared/src/db.js';
import { describePositionProblem, judgePositions } from '../../../shared/src/domain/positions.js';
import { createKafka, TOPICS } from '../../../shared/src/kafka.js';
import {
  readStoredPositions,
  readTopicSource,
  rebasePositions,
  type TopicSource,
  type StoredPositions,
} from '../../../shared/src/positions.js';
import { parseFlags, UsageError } from './flags.js';

const DEFAULT_GROUP = 'jackpot-aggregator';

async function withParts<T>(
  fn: (parts: {
    pool: ReturnType<typeof createPool>;
    admin: ReturnType<ReturnType<typeof createKafka>['admin']>;
  }) => Promise<T>,
): Promise<T> {
  const config = commonConfig(process.env);
  const pool = createPool(config.databaseUrl, { max: 1, applicationName: 'jackpot-cli' });
  const admin = createKafka({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    clientId: 'jackpot-cli',
  }).admin();
  try {
    await admin.connect();
    return await fn({ pool, admin });
  } finally {
    await admin.disconnect().catch(() => undefined);
    await pool.end();
  }
}

function table(stored: StoredPositions, source: TopicSource): string[] {
  const lines = [
    `  ${'partition'.padEnd(10)}${'position'.padStart(14)}${'first'.padStart(14)}${'end'.padStart(14)}${'lag'.padStart(12)}`,
  ];
  const partitions = [
    ...new Set([...stored.positions.keys(), ...source.ranges.map((r) => r.partition)]),
  ].sort((a, b) => a - b);
  for (const p of partitions) {
    const pos = stored.positions.get(p);
    const range = source.ranges.find((r) => r.partition === p);
    const lag =
      pos !== undefined && pos >= 0n && range !== undefined && pos <= range.high
        ? (range.high - pos).toString()
        : '-';
    lines.push(
      `  ${String(p).padEnd(10)}${(pos === undefined || pos < 0n ? '-' : pos.toString()).padStart(14)}${(range?.low.toString() ?? '-').padStart(14)}${(range?.high.toString() ?? '-').padStart(14)}${lag.padStart(12)}`,
    );
  }
  return lines;
}

/** `positions [--group G] [--topic T]`: exit 0 when they belong to the topic, 1 when not. */
export async function positionsShow(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['group', 'topic']);
  const groupId = flags.get('group') ?? DEFAULT_GROUP;
  const topic = flags.get('topic') ?? TOPICS.wagers;
  return withParts(async ({ pool, admin }) => {
    const stored = await readStoredPositions(pool, groupId, topic);
    const source = await readTopicSource(admin, topic);
    const verdict = judgePositions({
      clusterId: source.clusterId,
      storedClusterId: stored.clusterId,
      stored: stored.positions,
      ranges: source.ranges,
    });
    const out = [
      `group ${groupId} on ${topic}`,
      `  stored for cluster ${stored.clusterId ?? '(none recorded)'}; the broker is cluster ${source.clusterId}`,
      ...table(stored, source),
    ];
    if (verdict.problems.length === 0) out.push('positions belong to this topic');
    else
      out.push(
        'POSITIONS REFUSED: the aggregators apply nothing of this topic until they are re-based:',
        ...verdict.problems.map((p) => `  - ${describePositionProblem(p)}`),
        `re-base: npm run jackpot -- positions rebase --group ${groupId} --topic ${topic} --to earliest|latest`,
      );
    process.stdout.write(`${out.join('\n')}\n`);
    return verdict.problems.length === 0 ? 0 : 1;
  });
}

/**
 * `positions rebase --group G [--topic T] --to earliest|latest [--yes]`. Without `--yes` it shows
 * what it would do and asks for the group id on a terminal; with no terminal it refuses.
 */
export async function positionsRebase(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['group', 'topic', 'to'], ['yes']);
  const groupId = flags.get('group');
  if (groupId === undefined)
    throw new UsageError(
      '--group is required (the aggregators use jackpot-aggregator unless AGGREGATOR_GROUP_ID says otherwise)',
    );
  const topic = flags.get('topic') ?? TOPICS.wagers;
  const to = flags.get('to');
  if (to !== 'earliest' && to !== 'latest')
    throw new UsageError(
      '--to must be earliest (apply everything the topic holds) or latest (only what arrives from now on)',
    );
  return withParts(async ({ pool, admin }) => {
    const stored = await readStoredPositions(pool, groupId, topic);
    const source = await readTopicSource(admin, topic);
    process.stdout.write(
      [
        `group ${groupId} on ${topic}: now stored for cluster ${stored.clusterId ?? '(none recorded)'}:`,
        ...table(stored, source),
        `re-base onto cluster ${source.clusterId}, every partition at its ${to === 'earliest' ? 'first offset (everything the topic holds is applied; event ids already applied still count once)' : 'end (only wagers that arrive from now on are applied)'}.`,
        '',
      ].join('\n'),
    );
    if (flags.get('yes') !== 'true') {
      if (!process.stdin.isTTY) {
        process.stderr.write('not re-based: confirm with --yes (no terminal to ask on)\n');
        return 1;
      }
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`type the group id (${groupId}) to confirm: `);
      rl.close();
      if (answer.trim() !== groupId) {
        process.stderr.write('not re-based\n');
        return 1;
      }
    }
    const done = await rebasePositions(pool, admin, {
      groupId,
      topic,
      to,
      actor: `cli:${userInfo().username}@${hostname()}`,
    });
    process.stdout.write(
      `re-based ${groupId} on ${topic} (cluster ${done.after.clusterId}): ${[...done.after.positions].map(([p, n]) => `${p}@${n}`).join(' ')}; audited in jackpot.config_audit\n`,
    );
    return 0;
  });
}
