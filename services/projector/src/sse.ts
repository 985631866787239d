/**
 * `GET /v1/pools/stream`: Server-Sent Events. A new client first gets one `pool` event per pool
 * (the current state), then one per change, each with `id: {poolId}@{version}`. A reconnecting
 * client gets the full state again, so `Last-Event-ID` needs no replay.
 *
 * Bounded per client and in number:
 * - At most `maxClients` streams; past it a new one is refused (503, Retry-After) before anything
 *   is allocated for it.
 * - A display needs the latest amount of each pool, not every step in between. While a client's
 *   socket does not take more (Node's write buffer is past its high-water mark, 16 KiB), changes
 *   are not written: each pool's latest state is kept aside (a reference to the entry the store
 *   already holds, one per pool at most) and written when the socket drains. So a slow client
 *   costs at most the high-water mark plus one write, and sees the newest amounts once it catches
 *   up; a fast one sees every change as before.
 * - A client whose socket has not drained for `stallMs` is not reading at all (a frozen display,
 *   or a peer holding the slot on purpose): it is disconnected, freeing its slot.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/src/logger.js';
import type { ProjectorMetrics } from './metrics.js';
import type { PoolEntry, PoolStore } from './store.js';

export interface SseHubOptions {
  readonly store: PoolStore;
  readonly heartbeatMs: number;
  /** Open streams at most (`PROJECTOR_SSE_MAX_CLIENTS`). */
  readonly maxClients: number;
  /** A client whose socket has not drained for this long is dropped. */
  readonly stallMs: number;
  readonly logger: Logger;
  readonly metrics: ProjectorMetrics;
  /** Milliseconds; defaults to `Date.now`. */
  readonly now?: () => number;
}

export interface SseRefusal {
  readonly retryAfterSeconds: number;
  readonly message: string;
}

export interface SseHub {
  /** Null when a new stream may open, otherwise why not (counted as a refusal). */
  admit(): SseRefusal | null;
  /** Takes over a response: writes the headers, the current state, then every change. */
  open(res: ServerResponse): void;
  /** Ends every stream (shutdown). */
  closeAll(): void;
  size(): number;
}

/** Tells EventSource to reconnect after 1 s, the same bound as the projection's freshness. */
const RETRY_MS = 1000;
/**
 * Retry-After of a refused stream: long enough that a wall of displays retrying does not hammer a
 * full projector, short enough that a display is back within seconds once a slot frees up.
 */
const REFUSED_RETRY_AFTER_S = 5;

function formatPoolEvent(entry: PoolEntry): string {
  return `id: ${entry.view.poolId}@${entry.view.version}\nevent: pool\ndata: ${entry.json}\n\n`;
}

interface Client {
  readonly res: ServerResponse;
  /** When the socket last refused more (write returned false); null while it takes writes. */
  blockedSince: number | null;
  /** The latest state of each pool that changed while blocked, in first-change order. */
  readonly pending: Map<string, PoolEntry>;
}

export function createSseHub(opts: SseHubOptions): SseHub {
  const log = opts.logger.child({ component: 'sse' });
  const now = opts.now ?? Date.now;
  const clients = new Map<ServerResponse, Client>();
  let heartbeat: NodeJS.Timeout | null = null;

  const forget = (res: ServerResponse): boolean => {
    if (!clients.delete(res)) return false;
    opts.metrics.sseClients.add(-1);
    if (clients.size === 0 && heartbeat !== null) {
      clearInterval(heartbeat);
      heartbeat = null;
    }
    return true;
  };

  const block = (c: Client): void => {
    c.blockedSince = now();
    c.res.once('drain', () => flush(c));
  };

  /** The socket drained: write what was kept aside, until it refuses again. */
  const flush = (c: Client): void => {
    if (!clients.has(c.res)) return;
    c.blockedSince = null;
    for (const [poolId, entry] of c.pending) {
      c.pending.delete(poolId);
      if (!c.res.write(formatPoolEvent(entry))) {
        block(c);
        return;
      }
    }
  };

  const deliver = (c: Client, entry: PoolEntry, event: string): void => {
    if (c.blockedSince !== null) {
      const poolId = entry.view.poolId;
      if (c.pending.has(poolId)) opts.metrics.sseEventsCoalesced.add(1);
      // Deleted first so the pool moves to the end: the order of the writes stays the order of
      // the changes they carry.
      c.pending.delete(poolId);
      c.pending.set(poolId, entry);
      return;
    }
    if (!c.res.write(event)) block(c);
  };

  const tick = (): void => {
    const t = now();
    for (const c of [...clients.values()]) {
      if (c.blockedSince === null) {
        if (!c.res.write(': heartbeat\n\n')) block(c);
      } else if (t - c.blockedSince >= opts.stallMs) {
        log.warn(
          { blockedMs: t - c.blockedSince, buffered: c.res.writableLength },
          'SSE client is not reading; dropping it',
        );
        forget(c.res);
        opts.metrics.sseClientsDropped.add(1, { reason: 'stalled' });
        c.res.destroy();
      }
    }
  };

  opts.store.onChange((entry) => {
    if (clients.size === 0) return;
    const event = formatPoolEvent(entry);
    for (const c of clients.values()) deliver(c, entry, event);
  });

  return {
    admit() {
      if (clients.size < opts.maxClients) return null;
      opts.metrics.sseClientsRefused.add(1, { reason: 'capacity' });
      return {
        retryAfterSeconds: REFUSED_RETRY_AFTER_S,
        message: `this projector serves at most ${opts.maxClients} streams; retry later or poll GET /v1/pools`,
      };
    },
    open(res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx buffers responses by default, which would hold events back.
        'x-accel-buffering': 'no',
      });
      const c: Client = { res, blockedSince: null, pending: new Map() };
      // Snapshot and subscription in one synchronous step: no change can fall between them.
      clients.set(res, c);
      opts.metrics.sseClients.add(1);
      if (!res.write(`retry: ${RETRY_MS}\n\n${opts.store.entries().map(formatPoolEvent).join('')}`)) block(c);
      res.on('close', () => forget(res));
      res.on('error', () => forget(res));
      heartbeat ??= setInterval(tick, opts.heartbeatMs);
    },
    closeAll() {
      for (const res of [...clients.keys()]) {
        forget(res);
        res.end();
      }
    },
    size: () => clients.size,
  };
}
