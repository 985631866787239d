/**
 * The body of `POST /v1/wagers`, already parsed as JSON: one wager, or `{"wagers": [...]}`.
 * Pure: the route does the I/O.
 */
import { validateWager, type ReasonCode, type Wager } from '../../../shared/src/domain/wager.js';

export type WagerItems =
  | { readonly ok: true; readonly items: readonly unknown[] }
  | { readonly ok: false; readonly status: 400 | 413; readonly code: string; readonly message: string };

/** A body with an own `wagers` property is a batch; any other object is one wager. */
export function wagerItems(body: unknown, maxItems: number): WagerItems {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      status: 400,
      code: 'bad_request',
      message: 'the body must be one wager object or {"wagers": [...]}',
    };
  }
  if (!Object.hasOwn(body, 'wagers')) return { ok: true, items: [body] };
  const wagers = (body as { wagers: unknown }).wagers;
  if (!Array.isArray(wagers))
    return { ok: false, status: 400, code: 'bad_request', message: 'wagers must be an array' };
  if (wagers.length === 0) return { ok: false, status: 400, code: 'bad_request', message: 'wagers is empty' };
  if (wagers.length > maxItems) {
    return {
      ok: false,
      status: 413,
      code: 'too_many_wagers',
      message: `at most ${maxItems} wagers per request, got ${wagers.length}`,
    };
  }
  return { ok: true, items: wagers };
}

export interface RejectedItem {
  readonly index: number;
  readonly code: ReasonCode;
  readonly message: string;
}

export interface CheckedWagers {
  readonly accepted: readonly Wager[];
  /** In request order. */
  readonly rejected: readonly RejectedItem[];
}

export function checkWagers(items: readonly unknown[], nowMs: number): CheckedWagers {
  const accepted: Wager[] = [];
  const rejected: RejectedItem[] = [];
  items.forEach((item, index) => {
    const result = validateWager(item, nowMs);
    if (result.ok) accepted.push(result.wager);
    else rejected.push({ index, code: result.reason, message: result.message });
  });
  return { accepted, rejected };
}
