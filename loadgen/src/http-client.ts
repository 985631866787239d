/**
 * A minimal HTTP/1.1 client over node:http with keep-alive: the load generator makes thousands of
 * small requests a second to one host, where a fresh TCP connection each would dominate the cost.
 */
import http from 'node:http';
import { AppError } from '../../shared/src/errors.js';

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export function createAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** Resolves with any status; rejects only when no response arrived (connection error or timeout). */
export function httpRequest(agent: http.Agent, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string | number> = { ...req.headers };
    if (body !== undefined) headers['content-length'] = body.length;
    const request = http.request(
      req.url,
      { method: req.method, agent, headers, timeout: req.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    request.on('timeout', () => {
      request.destroy(
        new AppError('TIMEOUT', `${req.method} ${req.url.href}: no answer in ${req.timeoutMs} ms`, {
          retryable: true,
        }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A short code for a failed request, for error counts: `ECONNREFUSED`, `TIMEOUT`, … */
export function networkErrorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'network_error';
}
