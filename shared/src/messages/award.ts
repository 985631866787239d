/**
 * `jackpot.awards.v1` (key `poolId`): one message per win, claimed or mystery,
 * `{winId, poolId, cycle, amountMinor, kind, gameId, playerId, wonAt}`. Written by the outbox
 * relay of `jackpot.wins` (aggregator and gateway), at least once: a reader drops copies by
 * `winId`, which the `x-win-id` header also carries so a reader can drop one unparsed.
 */
import {
  decoded,
  isIntegerAtLeast,
  isIsoTimestamp,
  isNonEmptyString,
  isPoolId,
  isUuid,
  jsonInteger,
  readJsonObject,
  readMinorAmount,
  refused,
  type DecodeResult,
} from './decoding.js';

/**
 * The `v1` of the topic's name: a change a reader of v1 cannot read is a new module and topic.
 * Exported as part of the module's public API (type, encode, decode, version) for readers outside
 * this repository; inside it only the tests read it.
 */
export const AWARD_SCHEMA_VERSION = 1;

export const WIN_ID_HEADER = 'x-win-id';

const AWARD_KINDS = ['claim', 'mystery'] as const;
export type AwardKind = (typeof AWARD_KINDS)[number];

export interface AwardMessage {
  readonly winId: string;
  readonly poolId: string;
  readonly cycle: number;
  /** Whole minor units paid. BigInt: exact whatever the size of the win. */
  readonly amountMinor: bigint;
  readonly kind: AwardKind;
  readonly gameId: string;
  readonly playerId: string;
  /** ISO 8601. */
  readonly wonAt: string;
}

/** The value's JSON, fields in the contract's order, the amount as an exact JSON number. */
export function encodeAward(a: AwardMessage): string {
  return (
    `{"winId":${JSON.stringify(a.winId)},"poolId":${JSON.stringify(a.poolId)},"cycle":${a.cycle},` +
    `"amountMinor":${jsonInteger(a.amountMinor)},"kind":${JSON.stringify(a.kind)},` +
    `"gameId":${JSON.stringify(a.gameId)},"playerId":${JSON.stringify(a.playerId)},"wonAt":${JSON.stringify(a.wonAt)}}`
  );
}

/** The Kafka message: key `poolId`, header `x-win-id`. */
export function awardRecord(a: AwardMessage): {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
} {
  return { key: a.poolId, value: encodeAward(a), headers: { [WIN_ID_HEADER]: a.winId } };
}

const isAwardKind = (v: unknown): v is AwardKind => AWARD_KINDS.some((k) => k === v);

/**
 * Checks every field; unknown fields are ignored. Nothing in this repository consumes the awards
 * topic (the payout systems downstream do), so only the tests call it: it is the module's public
 * reader, the one a consumer of the contract can import.
 */
export function decodeAward(value: string | Uint8Array | null): DecodeResult<AwardMessage> {
  const json = readJsonObject(value);
  if (!json.ok) return json;
  const { winId, poolId, cycle, amountMinor, kind, gameId, playerId, wonAt } = json.message;
  if (!isUuid(winId)) return refused('winId must be a UUID');
  if (!isPoolId(poolId)) return refused('poolId must be "{jackpotId}:{tier}"');
  if (!isIntegerAtLeast(cycle, 1)) return refused('cycle must be an integer >= 1');
  const amount = readMinorAmount(amountMinor);
  if (amount === null) return refused('amountMinor must be an integer from 0 to 2^53 - 1');
  if (!isAwardKind(kind)) return refused(`kind must be one of ${AWARD_KINDS.join(', ')}`);
  if (!isNonEmptyString(gameId)) return refused('gameId must be a non-empty string');
  if (!isNonEmptyString(playerId)) return refused('playerId must be a non-empty string');
  if (!isIsoTimestamp(wonAt)) return refused('wonAt must be an ISO 8601 timestamp');
  return decoded({ winId, poolId, cycle, amountMinor: amount, kind, gameId, playerId, wonAt });
}
