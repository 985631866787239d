/** The demo's HTTP client for the gateway and the projector. */
import { AppError } from '../../../shared/src/errors.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

export async function request(
  method: string,
  url: string,
  key: string | null,
  body?: unknown,
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // not JSON: kept as text for the message
  }
  return { status: res.status, body: parsed };
}

export const errorText = (a: HttpAnswer): string => JSON.stringify(a.body).slice(0, 400);

export interface ProjectorPool {
  readonly poolId: string;
  readonly cycle: number;
  readonly version: string;
  readonly amountMinor: string;
}

export async function projectorPools(projectorUrl: string): Promise<Map<string, ProjectorPool>> {
  const answer = await request('GET', `${projectorUrl}/v1/pools`, null);
  if (answer.status !== 200 || !Array.isArray(answer.body))
    throw new AppError(
      'INTERNAL',
      `GET ${projectorUrl}/v1/pools answered ${answer.status}: ${errorText(answer)}`,
    );
  const out = new Map<string, ProjectorPool>();
  for (const p of answer.body as Record<string, unknown>[]) {
    const poolId = String(p['poolId']);
    out.set(poolId, {
      poolId,
      cycle: Number(p['cycle']),
      version: String(p['version']),
      amountMinor: String(p['amountMinor']),
    });
  }
  return out;
}
