/**
 * End-to-end latency, sent → visible in the projector, measured with a probe pool: a jackpot of
 * its own (`probe`, one pool `probe:main` at 100 % contribution, one game `probe-game`) that no
 * other traffic touches. Each probe wager raises the pool by a known whole number of minor units,
 * so "visible" is simply "the projector's amountMinor reached the expected value".
 *
 * One probe in flight at a time, one every ~100 ms; while one is in flight the projector is polled
 * every 5 ms, so the measurement's resolution is about 5 ms plus one local GET.
 */
import type http from 'node:http';
import { httpRequest, networkErrorCode } from './http-client.js';
import type { Histogram } from './histogram.js';
import type { Ledger } from './ledger.js';
import { sleep, type Outcome, type Sender } from './sender.js';
import type { ProbeTraffic } from './traffic.js';

export interface ProbeStats {
  /** Probes whose effect became visible (after the warm-up: these are in the histogram). */
  readonly visible: number;
  /** Probes visible during the warm-up, not in the histogram, and the slowest of them. */
  readonly warmupVisible: number;
  readonly warmupMaxMs: number;
  /** Probes not visible within the timeout. */
  readonly timeouts: number;
  /** Probes the pipeline did not acknowledge. */
  readonly sendErrors: number;
  /** Why probing stopped early, if it did. */
  readonly stoppedReason: string | null;
}

export interface ProbeOptions {
  readonly sender: Sender;
  readonly traffic: ProbeTraffic;
  readonly ledger: Ledger;
  readonly histogram: Histogram;
  readonly agent: http.Agent;
  /** The projector's base URL, e.g. `http://127.0.0.1:8081`. */
  readonly projectorUrl: string;
  readonly poolId: string;
  /** Minor units one probe adds to the pool's amountMinor (exact: amount × ppm is whole). */
  readonly stepMinor: bigint;
  readonly intervalMs: number;
  readonly pollMs: number;
  readonly timeoutMs: number;
  /** Probes started this long after `run` began count apart, not in the histogram (start-up). */
  readonly warmupMs?: number;
  /** Stop probing after this many probes in a row were not seen: the pipeline behind is not running. */
  readonly maxConsecutiveTimeouts: number;
  readonly onNotice: (message: string) => void;
}

export type PoolRead =
  { readonly ok: true; readonly amountMinor: bigint } | { readonly ok: false; readonly reason: string };

function toBigInt(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return null;
}

/** `GET /v1/pools/{poolId}` → its amountMinor. */
export async function readPool(
  agent: http.Agent,
  projectorUrl: string,
  poolId: string,
  timeoutMs = 2000,
): Promise<PoolRead> {
  const url = new URL(`/v1/pools/${encodeURIComponent(poolId)}`, projectorUrl);
  try {
    const res = await httpRequest(agent, { method: 'GET', url, timeoutMs });
    if (res.status === 404)
      return { ok: false, reason: `the projector at ${projectorUrl} has no pool ${poolId} (404)` };
    if (res.status !== 200) return { ok: false, reason: `GET ${url.pathname} answered ${res.status}` };
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return { ok: false, reason: `GET ${url.pathname} answered with something that is not JSON` };
    }
    const amount =
      typeof body === 'object' && body !== null
        ? toBigInt((body as Record<string, unknown>)['amountMinor'])
        : null;
    if (amount === null)
      return { ok: false, reason: `GET ${url.pathname} answered without an integer amountMinor` };
    return { ok: true, amountMinor: amount };
  } catch (e) {
    return {
      ok: false,
      reason: `the projector at ${projectorUrl} is not reachable (${networkErrorCode(e)})`,
    };
  }
}

export interface Probe {
  /** Probes until `stopped()` turns true, then finishes the probe in flight and returns. */
  run(baselineMinor: bigint, stopped: () => boolean): Promise<void>;
  stats(): ProbeStats;
}

export function createProbe(opts: ProbeOptions): Probe {
  let visible = 0;
  let warmupVisible = 0;
  let warmupMaxMs = 0;
  let timeouts = 0;
  let sendErrors = 0;
  let stoppedReason: string | null = null;

  return {
    stats: () => ({ visible, warmupVisible, warmupMaxMs, timeouts, sendErrors, stoppedReason }),
    async run(baselineMinor, stopped) {
      const warmupUntil = performance.now() + (opts.warmupMs ?? 0);
      let expected = baselineMinor;
      let consecutiveTimeouts = 0;
      while (!stopped()) {
        const started = performance.now();
        const event = opts.traffic.next(Date.now());
        opts.ledger.sent(event, 'probe');
        let outcome: Outcome | null = null;
        const sending = opts.sender.send(event, { urgent: true }).then((o) => {
          outcome = o;
          if (o.ok) opts.ledger.acked(event, 'probe');
          else opts.ledger.failed(event, o.code, 'probe');
        });
        expected += opts.stepMinor;

        let seen = false;
        while (performance.now() - started < opts.timeoutMs) {
          const read = await readPool(opts.agent, opts.projectorUrl, opts.poolId);
          if (read.ok && read.amountMinor >= expected) {
            const ms = performance.now() - started;
            if (started < warmupUntil) {
              warmupVisible++;
              warmupMaxMs = Math.max(warmupMaxMs, ms);
            } else opts.histogram.record(ms);
            // Something else raised the pool too (a probe that timed out arriving late): measure
            // the next probe from what is there now.
            expected = read.amountMinor;
            seen = true;
            break;
          }
          if ((outcome as Outcome | null)?.ok === false) break;
          await sleep(opts.pollMs);
        }
        await sending;
        const result = outcome as Outcome | null;
        if (seen) {
          if (started >= warmupUntil) visible++;
          consecutiveTimeouts = 0;
        } else if (result !== null && !result.ok) {
          sendErrors++;
          expected -= opts.stepMinor;
        } else {
          timeouts++;
          consecutiveTimeouts++;
          if (consecutiveTimeouts >= opts.maxConsecutiveTimeouts) {
            stoppedReason =
              `${consecutiveTimeouts} probes in a row were acknowledged but not visible in ${opts.poolId} at ` +
              `${opts.projectorUrl} within ${opts.timeoutMs} ms: is the aggregator (and projector) running? ` +
              'Probing stopped; the load goes on.';
            opts.onNotice(stoppedReason);
            return;
          }
        }
        const rest = opts.intervalMs - (performance.now() - started);
        if (rest > 0) await sleep(rest);
      }
    },
  };
}
