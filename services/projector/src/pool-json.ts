/**
 * The wire forms of a pool: the value of a `jackpot.pool-updates.v1` message in, the read API's
 * JSON out. Pure.
 */
import type { PoolUpdate, PoolView } from './projection.js';

export type ParseResult =
  { readonly ok: true; readonly update: PoolUpdate } | { readonly ok: false; readonly reason: string };

/** `2026-11-29T12:00:00.123Z`, `2026-11-29T12:00:00Z`, or with an offset such as `+01:00`. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads `{poolId, jackpotId, cycle, amountMinor, version, updatedAt}`; unknown fields are ignored.
 * An amount above 2^53 - 1 cannot have survived JSON.parse exactly, so it is refused rather than
 * shown rounded: the resync reads the exact amount from Postgres instead.
 */
export function parsePoolUpdate(text: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed JSON' };
  }
  if (!isRecord(v)) return { ok: false, reason: 'not a JSON object' };
  const { poolId, jackpotId, cycle, amountMinor, version, updatedAt } = v;
  if (typeof poolId !== 'string' || poolId === '')
    return { ok: false, reason: 'poolId must be a non-empty string' };
  if (typeof jackpotId !== 'string' || jackpotId === '')
    return { ok: false, reason: 'jackpotId must be a non-empty string' };
  if (!poolId.startsWith(`${jackpotId}:`) || poolId.length === jackpotId.length + 1) {
    return { ok: false, reason: 'poolId must be "{jackpotId}:{tier}"' };
  }
  if (typeof cycle !== 'number' || !Number.isSafeInteger(cycle) || cycle < 1)
    return { ok: false, reason: 'cycle must be an integer >= 1' };
  if (typeof amountMinor !== 'number' || !Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    return { ok: false, reason: 'amountMinor must be an integer from 0 to 2^53 - 1' };
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    return { ok: false, reason: 'version must be an integer >= 1' };
  }
  if (typeof updatedAt !== 'string' || !ISO_TIMESTAMP.test(updatedAt))
    return { ok: false, reason: 'updatedAt must be an ISO 8601 timestamp' };
  return {
    ok: true,
    update: { poolId, jackpotId, cycle, amountMinor: BigInt(amountMinor), version, updatedAt },
  };
}

/**
 * One pool as the read API's JSON, fields in the contract's order. Written by hand because
 * JSON.stringify cannot write a BigInt, and the amount must go out as an exact JSON number.
 */
export function poolJson(v: PoolView): string {
  return (
    `{"poolId":${JSON.stringify(v.poolId)},"jackpotId":${JSON.stringify(v.jackpotId)},` +
    `"tier":${JSON.stringify(v.tier)},"currency":${JSON.stringify(v.currency)},` +
    `"amountMinor":${v.amountMinor.toString()},"cycle":${v.cycle},"version":${v.version},` +
    `"updatedAt":${JSON.stringify(v.updatedAt)}}`
  );
}
