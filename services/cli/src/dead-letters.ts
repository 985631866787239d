/**
 * `dead-letters list` and `dead-letters redrive`: what the aggregators refused, and the way back
 * in once the cause is fixed (a game linked to its jackpot, a missing fx rate, a bug fixed).
 *
 * A re-drive publishes each dead letter's original key and bytes (jackpot.dead_letters keeps both)
 * to the topic it was consumed from, with the idempotent producer and acks from every in-sync
 * replica; the aggregators apply it like any wager. Nothing else is needed for exactly-once: a
 * dead-lettered wager never claimed its event id (dead letters are screened out before the claim,
 * services/aggregator/src/apply-window.ts), and a wager re-driven twice, or one applied meanwhile
 * through a retry of the game server, is a duplicate the ledger's event-id check counts once.
 * A wager that still fails is dead-lettered again, as a new row.
 *
 * The duplicate check remembers an applied event id for RETENTION_DUPLICATE_CHECK_DAYS (7) days
 * at least. A dead letter older than that could carry an id applied meanwhile through another
 * message and forgotten since, which a re-drive would count again; so by default only dead letters
 * received within that window are re-driven, and older ones only with --past-duplicate-window,
 * after the operator checked the ledger for their event ids.
 *
 * Each re-driven row is recorded in jackpot.config_audit (action `dead-letters.redrive`, subject
 * `dead-letter/<id>`, the actor, the row's origin and the topic it went to), which is how `list`
 * knows what was re-driven and `redrive --reason` skips it next time: no column, no migration.
 * The audit row is written after the publish: a crash between the two re-drives the row again
 * next time, which counts once all the same.
 */
import { createInterface } from 'node:readline/promises';
import type pg from 'pg';
import { commonConfig, int } from '../../../shared/src/config.js';
import { REASON_CODES } from '../../../shared/src/domain/wager.js';
import { createKafka } from '../../../shared/src/kafka.js';
import { intFlag, parseFlags, parseSince, UsageError } from './flags.js';
import { actor, withDb } from './operator.js';

const REDRIVE_ACTION = 'dead-letters.redrive';
/** Rows read and published at a time: bounded memory whatever the count (payloads are ≤ 1 MiB, usually < 1 KiB). */
const PAGE = 500;

/**
 * Reasons a fix elsewhere can cure: configuration (`unknown_game`, `currency_mismatch`), a bug
 * (`unprocessable`) or a clock (`occurred_at_in_future`). The others are about the bytes
 * themselves, which a re-drive does not change: they would only be dead-lettered again.
 */
const REDRIVABLE_REASONS = [
  'unknown_game',
  'currency_mismatch',
  'unprocessable',
  'occurred_at_in_future',
] as const;

function reasonFlag(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!(REASON_CODES as readonly string[]).includes(value))
    throw new UsageError(`--reason must be one of ${REASON_CODES.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

const REDRIVEN = `(SELECT max(a.at) FROM jackpot.config_audit a WHERE a.subject = 'dead-letter/' || d.id AND a.action = '${REDRIVE_ACTION}')`;

interface ListRow {
  id: string;
  reason: string;
  message: string;
  event_id: string | null;
  topic: string;
  kafka_partition: number;
  kafka_offset: string;
  kafka_key: Buffer | null;
  payload: Buffer;
  received_at: Date;
  published_at: Date | null;
  redriven_at: Date | null;
}

/** `dead-letters list [--reason R] [--since T] [--limit N] [--json]`, newest first. */
export async function deadLettersList(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, ['reason', 'since', 'limit'], ['json']);
  const reason = reasonFlag(flags.get('reason'));
  const since = flags.has('since') ? parseSince(flags.get('since') ?? '', Date.now()) : null;
  const limit = flags.has('limit') ? intFlag('limit', flags.get('limit') ?? '', 1, 100_000) : 50;
  return withDb(async (pool) => {
    const where = `($1::text IS NULL OR d.reason = $1) AND ($2::timestamptz IS NULL OR d.received_at >= $2)`;
    const rows = (
      await pool.query<ListRow>({
        text: `SELECT d.id::text, d.reason, d.message, d.event_id::text, d.topic, d.kafka_partition, d.kafka_offset::text,
                      d.kafka_key, d.payload, d.received_at, d.published_at, ${REDRIVEN} AS redriven_at
               FROM jackpot.dead_letters d WHERE ${where} ORDER BY d.id DESC LIMIT $3`,
        values: [reason, since, limit],
      })
    ).rows;
    const counts = (
      await pool.query<{ reason: string; n: string; redriven: string }>({
        text: `SELECT d.reason, count(*)::text AS n, count(${REDRIVEN})::text AS redriven
               FROM jackpot.dead_letters d WHERE ${where} GROUP BY d.reason ORDER BY d.reason`,
        values: [reason, since],
      })
    ).rows;
    if (flags.has('json')) {
      const out = rows.map((r) => ({
        id: r.id,
        reason: r.reason,
        message: r.message,
        eventId: r.event_id,
        topic: r.topic,
        partition: r.kafka_partition,
        offset: r.kafka_offset,
        key: r.kafka_key?.toString('utf8') ?? null,
        payloadText: r.payload.toString('utf8'),
        payloadBase64: r.payload.toString('base64'),
        receivedAt: r.received_at.toISOString(),
        publishedToDlqAt: r.published_at?.toISOString() ?? null,
        redrivenAt: r.redriven_at?.toISOString() ?? null,
      }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const total = counts.reduce((s, c) => s + Number(c.n), 0);
    const out = [
      `${total} dead letter(s)${reason === null ? '' : ` with reason ${reason}`}${since === null ? '' : ` since ${since}`}: ${
        counts.map((c) => `${c.reason} ${c.n} (${c.redriven} re-driven)`).join(', ') || 'none'
      }`,
    ];
    for (const r of rows) {
      const payload = r.payload.toString('utf8').replace(/\s+/g, ' ');
      out.push(
        `${r.id.padStart(8)}  ${r.received_at.toISOString()}  ${r.reason.padEnd(22)} ${r.topic}/${r.kafka_partition}@${r.kafka_offset}  event ${r.event_id ?? '-'}  ${r.redriven_at === null ? '' : `re-driven ${r.redriven_at.toISOString()}`}`,
        `          ${r.message}`,
        `          ${payload.length > 160 ? `${payload.slice(0, 160)}…` : payload}`,
      );
    }
    if (rows.length < total) out.push(`(${rows.length} newest shown; --limit N for more)`);
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  });
}

interface Selection {
  /** SQL condition on `d` with parameters from $1. */
  readonly where: string;
  readonly values: readonly unknown[];
  /** What the operator asked for, in words. */
  readonly describe: string;
}

/** Days the duplicate check remembers an id at least: the aggregators' own setting. */
const duplicateWindowDays = (): number => int(process.env, 'RETENTION_DUPLICATE_CHECK_DAYS', 7, 1, 3650);

function selection(flags: ReadonlyMap<string, string>, nowMs: number): Selection {
  const reason = reasonFlag(flags.get('reason'));
  const ids = flags.get('id');
  if ((reason === null) === (ids === undefined))
    throw new UsageError('give either --reason R or --id ID1,ID2 (the ids dead-letters list shows)');
  if (ids !== undefined) {
    if (flags.has('since') || flags.has('again'))
      throw new UsageError('--since and --again go with --reason, not with --id');
    const list = ids.split(',').map((s) => s.trim());
    if (list.some((s) => !/^[1-9]\d{0,18}$/.test(s)))
      throw new UsageError(`--id is a comma-separated list of dead letter ids, got ${JSON.stringify(ids)}`);
    return { where: 'd.id = ANY($1::bigint[])', values: [list], describe: `ids ${list.join(', ')}` };
  }
  if (!(REDRIVABLE_REASONS as readonly string[]).includes(reason ?? ''))
    throw new UsageError(
      `dead letters with reason ${reason} would only be dead-lettered again: the bytes themselves are refused, and a re-drive sends the same bytes. A fix elsewhere can cure ${REDRIVABLE_REASONS.join(', ')}; use --id to re-drive chosen rows anyway`,
    );
  const since = flags.has('since') ? parseSince(flags.get('since') ?? '', nowMs) : null;
  return {
    where: `d.reason = $1 AND ($2::timestamptz IS NULL OR d.received_at >= $2)${flags.has('again') ? '' : ` AND ${REDRIVEN} IS NULL`}`,
    values: [reason, since],
    describe: `reason ${reason}${since === null ? '' : `, received since ${since}`}${flags.has('again') ? ', re-driven before or not' : ', not re-driven yet'}`,
  };
}

type RedriveRow = Pick<
  ListRow,
  'id' | 'reason' | 'event_id' | 'topic' | 'kafka_partition' | 'kafka_offset' | 'kafka_key' | 'payload'
>;

/**
 * `dead-letters redrive (--reason R [--since T] [--again] | --id ID1,ID2) [--limit N] [--dry-run] [--yes]`.
 * Rows dead-lettered while it runs (a re-driven wager that fails again) have higher ids than the
 * highest selected at the start and are left alone, so a re-drive always ends.
 */
export async function deadLettersRedrive(args: readonly string[]): Promise<number> {
  const flags = parseFlags(
    args,
    ['reason', 'id', 'since', 'limit'],
    ['again', 'dry-run', 'yes', 'past-duplicate-window'],
  );
  const sel = selection(flags, Date.now());
  const windowDays = duplicateWindowDays();
  const limit = flags.has('limit') ? intFlag('limit', flags.get('limit') ?? '', 1, 10_000_000) : 100_000;
  const config = commonConfig(process.env);
  return withDb(async (pool) => {
    const n = sel.values.length + 1;
    const plan = (
      await pool.query<{ topic: string; reason: string; n: string; max_id: string; redriven: string }>({
        text: `SELECT topic, reason, count(*)::text AS n, max(id)::text AS max_id, count(redriven_at)::text AS redriven
               FROM (SELECT d.id, d.topic, d.reason, ${REDRIVEN} AS redriven_at FROM jackpot.dead_letters d
                     WHERE ${sel.where} ORDER BY d.id LIMIT $${n}) s
               GROUP BY topic, reason ORDER BY topic, reason`,
        values: [...sel.values, limit],
      })
    ).rows;
    const count = plan.reduce((s, p) => s + Number(p.n), 0);
    if (flags.has('id')) {
      const asked = new Set((sel.values[0] as string[]).map(String));
      if (count < asked.size) {
        const found = await pool.query<{ id: string }>({
          text: 'SELECT id::text FROM jackpot.dead_letters WHERE id = ANY($1::bigint[])',
          values: [sel.values[0]],
        });
        for (const r of found.rows) asked.delete(r.id);
        process.stderr.write(`no dead letter with id ${[...asked].join(', ')} (dropped by retention?)\n`);
        return 1;
      }
    }
    if (count === 0) {
      process.stdout.write(`nothing to re-drive (${sel.describe})\n`);
      return 0;
    }
    const old = (
      await pool.query<{ n: string; oldest: Date | null }>({
        text: `SELECT count(*)::text AS n, min(received_at) AS oldest FROM (SELECT d.received_at FROM jackpot.dead_letters d
               WHERE ${sel.where} ORDER BY d.id LIMIT $${n}) s WHERE received_at < now() - make_interval(days => $${n + 1})`,
        values: [...sel.values, limit, windowDays],
      })
    ).rows[0];
    const maxId = plan.reduce((m, p) => (BigInt(p.max_id) > m ? BigInt(p.max_id) : m), 0n);
    process.stdout.write(
      [
        `${count} dead letter(s) to re-drive (${sel.describe}${count === limit ? `, first ${limit}` : ''}):`,
        ...plan.map(
          (p) =>
            `  ${p.n} ${p.reason} → ${p.topic}${Number(p.redriven) > 0 ? ` (${p.redriven} re-driven before)` : ''}`,
        ),
        'their original key and bytes go to the topic again; wagers applied meanwhile count once.',
        '',
      ].join('\n'),
    );
    const tooOld = Number(old?.n ?? 0) > 0 && !flags.has('past-duplicate-window');
    if (tooOld)
      process.stderr.write(
        `${flags.has('dry-run') ? 'would not be re-driven' : 'not re-driven'}: ${old?.n} of the ${count} dead letters were received more than ${windowDays} days ago (oldest ${old?.oldest?.toISOString()}), past the duplicate check's window (RETENTION_DUPLICATE_CHECK_DAYS): an event id applied meanwhile and forgotten since would count twice. Re-drive the recent ones with --since ${windowDays}d, or check the ledger for these event ids and add --past-duplicate-window\n`,
      );
    if (flags.has('dry-run')) {
      process.stdout.write('dry run: nothing published\n');
      return 0;
    }
    if (tooOld) return 1;
    if (!flags.has('yes')) {
      if (!process.stdin.isTTY) {
        process.stderr.write('not re-driven: confirm with --yes (no terminal to ask on)\n');
        return 1;
      }
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`type the number of dead letters (${count}) to confirm: `);
      rl.close();
      if (answer.trim() !== String(count)) {
        process.stderr.write('not re-driven\n');
        return 1;
      }
    }
    const producer = createKafka({
      brokers: config.kafkaBrokers,
      security: config.kafkaSecurity,
      clientId: 'jackpot-cli-redrive',
    }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let done = 0;
    try {
      let after = 0n;
      while (done < count) {
        const page = (
          await pool.query<RedriveRow>({
            text: `SELECT d.id::text, d.reason, d.event_id::text, d.topic, d.kafka_partition, d.kafka_offset::text, d.kafka_key, d.payload
                   FROM jackpot.dead_letters d
                   WHERE ${sel.where} AND d.id > $${n} AND d.id <= $${n + 1} ORDER BY d.id LIMIT $${n + 2}`,
            values: [...sel.values, after.toString(), maxId.toString(), Math.min(PAGE, count - done)],
          })
        ).rows;
        if (page.length === 0) break;
        await publish(producer, page);
        await audit(pool, page);
        done += page.length;
        after = BigInt(page.at(-1)?.id ?? '0');
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    process.stdout.write(
      `re-drove ${done} dead letter(s); audited in jackpot.config_audit (action ${REDRIVE_ACTION}). If the cause is not fixed they come back as new dead letters: npm run jackpot -- dead-letters list\n`,
    );
    return 0;
  });
}

type Producer = ReturnType<ReturnType<typeof createKafka>['producer']>;

async function publish(producer: Producer, rows: readonly RedriveRow[]): Promise<void> {
  const byTopic = new Map<string, RedriveRow[]>();
  for (const r of rows) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
  await producer.sendBatch({
    acks: -1,
    topicMessages: [...byTopic].map(([topic, rs]) => ({
      topic,
      // The key as it was, so the wager lands on its player's partition again (same order).
      messages: rs.map((r) => ({
        key: r.kafka_key,
        value: r.payload,
        headers: { 'x-redriven-dead-letter-id': r.id },
      })),
    })),
  });
}

async function audit(pool: pg.Pool, rows: readonly RedriveRow[]): Promise<void> {
  await pool.query({
    text: `INSERT INTO jackpot.config_audit (actor, action, subject, old_value, new_value)
           SELECT $1, '${REDRIVE_ACTION}', 'dead-letter/' || r.id, r.origin, r.target
           FROM unnest($2::bigint[], $3::jsonb[], $4::jsonb[]) AS r(id, origin, target)`,
    values: [
      actor(),
      rows.map((r) => r.id),
      rows.map((r) =>
        JSON.stringify({
          reason: r.reason,
          eventId: r.event_id,
          topic: r.topic,
          partition: r.kafka_partition,
          offset: r.kafka_offset,
        }),
      ),
      rows.map((r) => JSON.stringify({ topic: r.topic })),
    ],
  });
}
