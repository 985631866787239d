/**
 * The live jackpot page and what only it reads: `GET /` (one static HTML file, its script and
 * style inline, no build step), `GET /v1/wins/recent` and `GET /v1/stats/throughput`. The pools
 * themselves come from `GET /v1/pools` and the SSE stream, like any display's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../../../shared/src/http.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { PageData } from './page-data.js';

/**
 * The page is read from the sources, in every mode (tsx, dist/, the image): the nearest directory
 * above this module that holds package.json is the repository (or the image's /app).
 */
function pagePath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'services', 'projector', 'page', 'live.html');
    if (dirname(dir) === dir) throw new Error('no package.json above the projector');
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
// The page's script and style are inline; nothing else may load or run.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function registerPageRoutes(
  app: FastifyInstance,
  opts: { readonly data: PageData; readonly logger: Logger },
): void {
  // Read once at start: a missing page stops the projector there, not on a display's first visit.
  const page = readFileSync(pagePath());

  app.get('/', (_req, reply) => {
    void reply.headers(PAGE_HEADERS).send(page);
  });

  app.get('/v1/wins/recent', async (_req, reply) => {
    try {
      const body = await opts.data.recentWinsJson();
      return await reply.type(JSON_TYPE).header('cache-control', 'no-cache').send(body);
    } catch (e) {
      opts.logger.warn({ err: e }, 'reading recent wins failed');
      return sendError(
        reply.header('retry-after', '2'),
        503,
        'database_unavailable',
        'recent wins cannot be read right now',
      );
    }
  });

  app.get('/v1/stats/throughput', (_req, reply) => {
    void reply.type(JSON_TYPE).header('cache-control', 'no-cache').send(opts.data.throughputJson());
  });
}
