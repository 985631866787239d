/**
 * Re-reads every pool from Postgres on a timer and on demand, one read at a time.
 *
 * Requests while a read is running collapse into one more read after it: a burst of updates for
 * a new pool costs at most two queries, not one per message.
 */
import { toError } from '../../../shared/src/errors.js';

export type ResyncTrigger = 'start' | 'timer' | 'unknown_pool' | 'invalid_update' | 'rejoin';

export interface ResyncerOptions {
  /** One full read and apply; throws when the database is unreachable. */
  readonly run: (trigger: ResyncTrigger) => Promise<void>;
  readonly intervalMs: number;
  readonly onError: (e: Error, trigger: ResyncTrigger) => void;
  readonly setTimer?: (fn: () => void, ms: number) => { unref?: () => unknown };
  readonly clearTimer?: (t: unknown) => void;
}

export interface Resyncer {
  /** Asks for a read as soon as possible; never throws, errors go to `onError`. */
  request(trigger: ResyncTrigger): void;
  /** Starts the timer: a read `intervalMs` after the end of the previous one. */
  start(): void;
  /** Stops the timer and waits for a read in progress. */
  stop(): Promise<void>;
}

export function createResyncer(opts: ResyncerOptions): Resyncer {
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  let running: Promise<void> | null = null;
  let pending: ResyncTrigger | null = null;
  let timer: unknown = null;
  let started = false;
  let stopped = false;

  const schedule = (): void => {
    if (!started || stopped) return;
    if (timer !== null) clearTimer(timer);
    const t = setTimer(() => {
      timer = null;
      request('timer');
    }, opts.intervalMs);
    // The timer alone must not keep a process alive that is otherwise done.
    t.unref?.();
    timer = t;
  };

  const runOnce = async (trigger: ResyncTrigger): Promise<void> => {
    try {
      await opts.run(trigger);
    } catch (e) {
      opts.onError(toError(e), trigger);
    }
  };

  const request = (trigger: ResyncTrigger): void => {
    if (stopped) return;
    if (running !== null) {
      pending ??= trigger;
      return;
    }
    running = (async () => {
      let next: ResyncTrigger | null = trigger;
      while (next !== null && !stopped) {
        pending = null;
        await runOnce(next);
        next = pending;
      }
      running = null;
      schedule();
    })();
  };

  return {
    request,
    start() {
      started = true;
      if (running === null) schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimer(timer);
      timer = null;
      await running;
    },
  };
}
