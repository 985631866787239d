/**
 * `export --from T1 --to T2 --format csv|ndjson [--pool POOL_ID]`: the ledger rows with
 * occurred_at in [T1, T2) on standard output, streamed from Postgres' COPY to stdout with
 * backpressure, so memory stays flat whatever the range (statement: export-sql.ts). Nothing but
 * the rows goes to stdout; progress goes to stderr, and only when stderr is a terminal.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { commonConfig } from '../../../shared/src/config.js';
import { createPool } from '../../../shared/src/db.js';
import { toError } from '../../../shared/src/errors.js';
import { exportRange, exportStatement } from './export-sql.js';
import { parseFlags } from './flags.js';

const NEWLINE = 0x0a;
// Once a second: often enough to see it move, rarely enough to cost nothing.
const PROGRESS_INTERVAL_MS = 1000;

/** Passes bytes through and counts them and their lines. */
function counter(): Transform & { lines: number; bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      t.bytes += chunk.length;
      for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) t.lines++;
      done(null, chunk);
    },
  }) as Transform & { lines: number; bytes: number };
  t.lines = 0;
  t.bytes = 0;
  return t;
}

export async function exportLedger(args: readonly string[]): Promise<number> {
  const range = exportRange(parseFlags(args, ['from', 'to', 'format', 'pool']));
  const sql = exportStatement(range);
  const headerLines = range.format === 'csv' ? 1 : 0;
  const pool = createPool(commonConfig(process.env).databaseUrl, {
    max: 1,
    applicationName: 'jackpot-cli-export',
  });
  const counted = counter();
  const started = Date.now();
  const progress = (end: string): void => {
    const rows = Math.max(0, counted.lines - headerLines);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `\rexport: ${rows.toLocaleString('en')} rows, ${(counted.bytes / 1e6).toFixed(1)} MB, ${seconds.toFixed(0)} s${end}`,
    );
  };
  const tty = process.stderr.isTTY === true;
  const timer = tty ? setInterval(() => progress(''), PROGRESS_INTERVAL_MS) : null;
  timer?.unref();
  try {
    const client = await pool.connect();
    let broken: Error | undefined;
    client.on('error', (e) => (broken = e));
    try {
      await pipeline(client.query(copyTo(sql)), counted, process.stdout);
    } catch (e) {
      broken = toError(e);
      // The reader went away (`| head`): what it read is what it wanted.
      if ((e as { code?: unknown }).code === 'EPIPE') return 0;
      throw e;
    } finally {
      // A COPY cut short leaves the connection mid-protocol: never reuse it.
      client.release(broken);
    }
    if (tty) progress(' done\n');
    return 0;
  } finally {
    if (timer !== null) clearInterval(timer);
    await pool.end();
  }
}
