/**
 * The HTTP path: `POST /v1/wagers` on the gateway, batches of `{"wagers": [...]}`, several
 * requests at a time over keep-alive connections.
 *
 * Retries resend the same batch, the same eventIds: safe, because the pipeline counts an eventId
 * once. 429 waits the gateway's Retry-After; 503 (Kafka unavailable, nothing accepted), other 5xx
 * and lost connections back off exponentially. 401/403 stop the run: no retry fixes a bad key.
 */
import { AppError } from '../../shared/src/errors.js';
import { createAgent, httpRequest, networkErrorCode, type HttpResponse } from './http-client.js';
import { backoffMs, sleep, type Outcome, type Sender } from './sender.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import type { TrafficEvent } from './traffic.js';

export interface HttpSenderOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Wagers a request; the contract allows up to 1,000 (and 1 MiB; 1,000 wagers are ~170 kB). */
  readonly batchSize: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /**
   * How long the first wager of a batch waits for the batch to fill. 20 ms: at 5,000/s a batch
   * of 500 fills in 100 ms, and a partly filled one every 20 ms is still 50 requests a second.
   */
  readonly lingerMs?: number;
  /** 30 s per request: the gateway answers only once Kafka acked everything (acks = all). */
  readonly requestTimeoutMs?: number;
  /** Give a batch up after retrying it this long. 60 s. */
  readonly retryForMs?: number;
}

interface Item {
  readonly wager: WagerMessage;
  readonly resolve: (outcome: Outcome) => void;
}

interface Rejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `rejected` of a 202, or `details` of a 400 when it lists items the same way. */
function rejections(value: unknown): Rejection[] {
  if (!Array.isArray(value)) return [];
  const out: Rejection[] = [];
  for (const r of value) {
    if (isRecord(r) && typeof r['index'] === 'number') {
      out.push({
        index: r['index'],
        code: typeof r['code'] === 'string' ? r['code'] : 'rejected',
        message: typeof r['message'] === 'string' ? r['message'] : '',
      });
    }
  }
  return out;
}

/** Retry-After in ms: delta-seconds or an HTTP date; 1 s when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, nowMs: number): number {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return 1000;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.max(0, Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - nowMs);
}

function errorOf(res: HttpResponse): { code: string; message: string; details: unknown } {
  const body = parseJson(res.body);
  const error = isRecord(body) && isRecord(body['error']) ? body['error'] : {};
  return {
    code: typeof error['code'] === 'string' ? error['code'] : `http_${res.status}`,
    message: typeof error['message'] === 'string' ? error['message'] : res.body.slice(0, 200),
    details: error['details'],
  };
}

export function createHttpSender(opts: HttpSenderOptions): Sender {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1 || opts.batchSize > 1000) {
    throw new RangeError(`batchSize must be 1..1000 (the contract's limit), got ${opts.batchSize}`);
  }
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
    throw new RangeError(`concurrency must be ≥ 1, got ${opts.concurrency}`);
  const url = new URL('/v1/wagers', opts.baseUrl);
  const lingerMs = opts.lingerMs ?? 20;
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const retryForMs = opts.retryForMs ?? 60_000;
  // One socket more than the batches, for the probe's urgent requests.
  const agent = createAgent(opts.concurrency + 1);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` };

  let filling: Item[] = [];
  let lingerTimer: NodeJS.Timeout | undefined;
  const ready: Item[][] = [];
  let active = 0;
  let idleWaiters: (() => void)[] = [];
  let retries = 0;
  let throttled = 0;
  let fatal: Error | null = null;
  let closing = false;

  const settleAll = (batch: readonly Item[], outcome: Outcome): void => {
    for (const item of batch) item.resolve(outcome);
  };

  async function post(batch: readonly Item[]): Promise<void> {
    const body = JSON.stringify({ wagers: batch.map((i) => i.wager) });
    const deadline = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      if (fatal !== null) return settleAll(batch, { ok: false, code: 'aborted', message: fatal.message });
      let res: HttpResponse;
      try {
        res = await httpRequest(agent, { method: 'POST', url, headers, body, timeoutMs });
      } catch (e) {
        const code = networkErrorCode(e);
        if (closing || Date.now() >= deadline) {
          return settleAll(batch, { ok: false, code, message: e instanceof Error ? e.message : String(e) });
        }
        retries++;
        await sleep(backoffMs(attempt));
        continue;
      }

      if (res.status === 202 || res.status === 200) {
        const answer = parseJson(res.body);
        const rejected = new Map(
          rejections(isRecord(answer) ? answer['rejected'] : undefined).map((r) => [r.index, r]),
        );
        batch.forEach((item, index) => {
          const r = rejected.get(index);
          item.resolve(
            r === undefined ? { ok: true } : { ok: false, code: `rejected:${r.code}`, message: r.message },
          );
        });
        return;
      }
      const error = errorOf(res);
      if (res.status === 429) {
        throttled++;
        const waitMs = retryAfterMs(res.headers['retry-after'], Date.now());
        if (closing || Date.now() + waitMs > deadline)
          return settleAll(batch, { ok: false, code: 'http_429', message: error.message });
        await sleep(waitMs);
        continue;
      }
      if (res.status >= 500) {
        if (closing || Date.now() >= deadline) {
          return settleAll(batch, { ok: false, code: `http_${res.status}`, message: error.message });
        }
        retries++;
        await sleep(backoffMs(attempt));
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        fatal ??= new AppError(
          'CONFIG_INVALID',
          `the gateway at ${opts.baseUrl} refused the API key (${res.status} ${error.code}: ${error.message}); create one with \`npm run jackpot -- keys create --role game --name loadgen --all-jackpots\` (or --jackpots J1,J2)`,
        );
        return settleAll(batch, { ok: false, code: `http_${res.status}`, message: error.message });
      }
      if (res.status === 400) {
        const perItem = new Map(rejections(error.details).map((r) => [r.index, r]));
        batch.forEach((item, index) => {
          const r = perItem.get(index);
          item.resolve({
            ok: false,
            code: `rejected:${r?.code ?? error.code}`,
            message: r?.message ?? error.message,
          });
        });
        return;
      }
      return settleAll(batch, {
        ok: false,
        code: `http_${res.status}`,
        message: `${error.code}: ${error.message}`,
      });
    }
  }

  function pump(): void {
    while (active < opts.concurrency && ready.length > 0) {
      const batch = ready.shift() as Item[];
      active++;
      void post(batch).finally(() => {
        active--;
        pump();
        if (active === 0 && ready.length === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  function cut(): void {
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
    if (filling.length === 0) return;
    ready.push(filling);
    filling = [];
    pump();
  }

  return {
    async connect() {
      // Nothing to open: the first request opens the connections. A wrong URL shows up as
      // connection errors on the first batch.
    },
    send(event: TrafficEvent, sendOpts = {}): Promise<Outcome> {
      if (event.kind === 'invalid') {
        // Malformed JSON cannot travel inside a JSON batch; bad input over HTTP is the gateway's
        // own test suite's business.
        return Promise.resolve({
          ok: false,
          code: 'unsupported',
          message: 'invalid events are sent over Kafka only',
        });
      }
      return new Promise<Outcome>((resolve) => {
        const item = { wager: event.wager, resolve };
        if (sendOpts.urgent === true) {
          void post([item]);
          return;
        }
        filling.push(item);
        if (filling.length >= opts.batchSize) cut();
        else if (lingerTimer === undefined) lingerTimer = setTimeout(cut, lingerMs);
      });
    },
    async flush() {
      cut();
      if (active === 0 && ready.length === 0) return;
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      cut();
      closing = true;
      if (active > 0 || ready.length > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
      agent.destroy();
    },
    stats: () => ({ retries, throttled }),
    fatal: () => fatal,
  };
}
