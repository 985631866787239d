/**
 * `GET /v1/pools/stream`: Server-Sent Events. A new client first gets one `pool` event per pool
 * (the current state), then one per change, each with `id: {poolId}@{version}`. A reconnecting
 * client gets the full state again, so `Last-Event-ID` needs no replay.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/src/logger.js';
import type { ProjectorMetrics } from './metrics.js';
import type { PoolEntry, PoolStore } from './store.js';

export interface SseHubOptions {
  readonly store: PoolStore;
  readonly heartbeatMs: number;
  readonly logger: Logger;
  readonly metrics: ProjectorMetrics;
}

export interface SseHub {
  /** Takes over a response: writes the headers, the current state, then every change. */
  open(res: ServerResponse): void;
  /** Ends every stream (shutdown). */
  closeAll(): void;
  size(): number;
}

/**
 * 1 MiB of unsent events (thousands of updates) means the client stopped reading: drop it. It
 * reconnects to a fresh snapshot, which beats holding an unbounded buffer for it.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Tells EventSource to reconnect after 1 s, the same bound as the projection's freshness. */
const RETRY_MS = 1000;

export function formatPoolEvent(entry: PoolEntry): string {
  return `id: ${entry.view.poolId}@${entry.view.version}\nevent: pool\ndata: ${entry.json}\n\n`;
}

export function createSseHub(opts: SseHubOptions): SseHub {
  const log = opts.logger.child({ component: 'sse' });
  const clients = new Set<ServerResponse>();
  let heartbeat: NodeJS.Timeout | null = null;

  const drop = (res: ServerResponse): void => {
    if (!clients.delete(res)) return;
    opts.metrics.sseClients.add(-1);
    if (clients.size === 0 && heartbeat !== null) {
      clearInterval(heartbeat);
      heartbeat = null;
    }
  };

  const send = (res: ServerResponse, chunk: string): void => {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      log.warn({ buffered: res.writableLength }, 'SSE client is not reading; dropping it');
      drop(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  };

  opts.store.onChange((entry) => {
    if (clients.size === 0) return;
    const event = formatPoolEvent(entry);
    for (const res of clients) send(res, event);
  });

  return {
    open(res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx buffers responses by default, which would hold events back.
        'x-accel-buffering': 'no',
      });
      // Snapshot and subscription in one synchronous step: no change can fall between them.
      res.write(`retry: ${RETRY_MS}\n\n${opts.store.entries().map(formatPoolEvent).join('')}`);
      clients.add(res);
      opts.metrics.sseClients.add(1);
      res.on('close', () => drop(res));
      res.on('error', () => drop(res));
      heartbeat ??= setInterval(() => {
        for (const c of clients) send(c, ': heartbeat\n\n');
      }, opts.heartbeatMs);
    },
    closeAll() {
      for (const res of [...clients]) {
        drop(res);
        res.end();
      }
    },
    size: () => clients.size,
  };
}
