/**
 * What every message decoder shares: the result it returns and the field checks it is built from.
 * A decoder never throws on bad input and never trusts it: a value from the wire is either a
 * fully checked message or a reason, which the reader logs and acts on (resync, skip, fail a test).
 */

export type DecodeResult<T> =
  { readonly ok: true; readonly message: T } | { readonly ok: false; readonly reason: string };

export const decoded = <T>(message: T): DecodeResult<T> => ({ ok: true, message });
export const refused = <T>(reason: string): DecodeResult<T> => ({ ok: false, reason });

/** `2026-11-29T12:00:00.123Z`, `2026-11-29T12:00:00Z`, or with an offset such as `+01:00`. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A Kafka value (bytes) or its text, parsed as a JSON object; a reason otherwise. */
export function readJsonObject(value: string | Uint8Array | null): DecodeResult<Record<string, unknown>> {
  if (value === null) return refused('no value (a tombstone)');
  let text: string;
  try {
    text = typeof value === 'string' ? value : utf8.decode(value);
  } catch {
    return refused('not UTF-8');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return refused('malformed JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return refused('not a JSON object');
  return decoded(v as Record<string, unknown>);
}

export const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v !== '';
export const isIsoTimestamp = (v: unknown): v is string => typeof v === 'string' && ISO_TIMESTAMP.test(v);
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
export const isIntegerAtLeast = (v: unknown, min: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/** `"{jackpotId}:{tier}"` with both parts non-empty; `jackpotId` given when the message carries it. */
export function isPoolId(v: unknown, jackpotId?: string): v is string {
  if (!isNonEmptyString(v)) return false;
  if (jackpotId !== undefined) return v.startsWith(`${jackpotId}:`) && v.length > jackpotId.length + 1;
  const colon = v.indexOf(':');
  return colon > 0 && colon < v.length - 1;
}

/**
 * A whole number of minor units as an exact JSON number. JSON.stringify cannot write a BigInt,
 * and a Number above 2^53 - 1 would be rounded; this writes the digits as they are.
 */
export const jsonInteger = (n: bigint): string => n.toString();

/**
 * Amounts are read with JSON.parse, so one above 2^53 - 1 cannot have arrived exactly: it is
 * refused rather than shown rounded (readers have Postgres for the exact figure).
 */
export function readMinorAmount(v: unknown): bigint | null {
  return isIntegerAtLeast(v, 0) ? BigInt(v) : null;
}
