/** Waiting for the pipeline: the aggregators' backlog, the outbox relays, a condition. */
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { consumerLag } from './checks.js';
import { storedOffsets, unpublished } from './database.js';
import { group, seconds, type Out } from './report.js';

export const sleep = (msecs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msecs));

/**
 * Waits until the aggregators have applied every message on the wager topic, or `timeoutMs`, or
 * the signal. Returns the lag left (0n: caught up).
 */
export async function waitCaughtUp(
  admin: Admin,
  db: pg.Pool,
  opts: { groupId: string; topic: string; timeoutMs: number; signal: AbortSignal; out: Out; label: string },
): Promise<bigint> {
  const start = performance.now();
  let lag: bigint;
  let firstLag: bigint | null = null;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(opts.topic);
    lag = consumerLag(ends, await storedOffsets(db, opts.groupId, opts.topic));
    firstLag ??= lag;
    const done = firstLag - lag;
    opts.out.progress(
      `${opts.label}: ${group(lag)} messages left of ${group(firstLag)} (${seconds(start)}, ${group(
        done / BigInt(Math.max(1, Math.round((performance.now() - start) / 1000))),
      )}/s)`,
    );
    if (lag === 0n || opts.signal.aborted || performance.now() - start > opts.timeoutMs) break;
    await sleep(250);
  }
  opts.out.done();
  return lag;
}

/** Polls `check` every 200 ms until it holds (true) or `ms` pass (false). */
export async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Waits until the outbox relays have published every dead letter and win, or 15 s, or `signal`.
 * Returns what is left unpublished.
 */
export async function waitForOutbox(
  db: pg.Pool,
  out: Out,
  signal: AbortSignal,
): Promise<{ deadLetters: number; wins: number }> {
  // The relays publish dead letters and awards a moment after their batch commits; 15 s is
  // generous for a few thousand rows.
  let pending = await unpublished(db);
  for (let i = 0; i < 60 && pending.deadLetters + pending.wins > 0 && !signal.aborted; i++) {
    out.progress(`   outbox: ${pending.deadLetters} dead letters, ${pending.wins} wins unpublished`, 2000);
    await sleep(250);
    pending = await unpublished(db);
  }
  out.done();
  return pending;
}
