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

/**
 * Why the gateway did not accept an item: the pipeline's reason codes, plus two of its own.
 * `game_not_in_scope`: the game belongs to a jackpot the key does not cover; `kafka_unavailable`:
 * Kafka did not acknowledge the wager, so the client re-sends it (the same eventId counts once).
 */
export type ItemCode = ReasonCode | 'game_not_in_scope' | 'kafka_unavailable';

export interface RejectedItem {
  readonly index: number;
  readonly code: ItemCode;
  readonly message: string;
}

export interface AcceptedItem {
  /** Position in the request. */
  readonly index: number;
  readonly wager: Wager;
}

export interface CheckedWagers {
  /** In request order. */
  readonly accepted: readonly AcceptedItem[];
  /** In request order. */
  readonly rejected: readonly RejectedItem[];
}

/**
 * Validates each item. `inScope`, for a key scoped to some jackpots, says whether it may send
 * wagers for a game; without it every game is.
 */
export function checkWagers(
  items: readonly unknown[],
  nowMs: number,
  inScope: (gameId: string) => boolean = () => true,
): CheckedWagers {
  const accepted: AcceptedItem[] = [];
  const rejected: RejectedItem[] = [];
  items.forEach((item, index) => {
    const result = validateWager(item, nowMs);
    if (!result.ok) rejected.push({ index, code: result.reason, message: result.message });
    else if (!inScope(result.wager.gameId)) {
      // The other jackpot is not named: a scoped key learns nothing about jackpots it does not cover.
      rejected.push({
        index,
        code: 'game_not_in_scope',
        message: `game ${JSON.stringify(result.wager.gameId)} belongs to a jackpot outside this API key's scope`,
      });
    } else accepted.push({ index, wager: result.wager });
  });
  return { accepted, rejected };
}

/** Two lists of rejected items as one, in request order. */
export function mergeRejected(a: readonly RejectedItem[], b: readonly RejectedItem[]): RejectedItem[] {
  return [...a, ...b].sort((x, y) => x.index - y.index);
}
