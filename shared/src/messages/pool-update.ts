/**
 * `jackpot.pool-updates.v1` (compacted, key `poolId`): a pool's new state after every committed
 * change, `{poolId, jackpotId, cycle, amountMinor, version, updatedAt}`. Written by the aggregator
 * (after each window) and the gateway (after a claimed win); read by the projectors. `version`
 * grows strictly per pool, so a reader keeps the highest and ignores the rest. Best effort: a
 * message that never arrives is made good by the projector's resync from Postgres.
 */
import {
  decoded,
  isIntegerAtLeast,
  isIsoTimestamp,
  isNonEmptyString,
  isPoolId,
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
export const POOL_UPDATE_SCHEMA_VERSION = 1;

export interface PoolUpdateMessage {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly cycle: number;
  /** Whole minor units, floor(micro / 1e6). BigInt: exact whatever the pool's size. */
  readonly amountMinor: bigint;
  /** The pool row's version; grows strictly per pool. */
  readonly version: number;
  /** ISO 8601, when the change was committed. */
  readonly updatedAt: string;
}

/** The value's JSON, fields in the contract's order, the amount as an exact JSON number. */
export function encodePoolUpdate(u: PoolUpdateMessage): string {
  return (
    `{"poolId":${JSON.stringify(u.poolId)},"jackpotId":${JSON.stringify(u.jackpotId)},"cycle":${u.cycle},` +
    `"amountMinor":${jsonInteger(u.amountMinor)},"version":${u.version},"updatedAt":${JSON.stringify(u.updatedAt)}}`
  );
}

/** The Kafka message: key `poolId`, so compaction keeps each pool's latest. */
export function poolUpdateRecord(u: PoolUpdateMessage): { readonly key: string; readonly value: string } {
  return { key: u.poolId, value: encodePoolUpdate(u) };
}

/**
 * Checks every field; unknown fields are ignored (a newer writer may add some). The pool id must
 * be `"{jackpotId}:{tier}"` of the message's own jackpot, so a message cannot move a pool to
 * another jackpot's display.
 */
export function decodePoolUpdate(value: string | Uint8Array | null): DecodeResult<PoolUpdateMessage> {
  const json = readJsonObject(value);
  if (!json.ok) return json;
  const { poolId, jackpotId, cycle, amountMinor, version, updatedAt } = json.message;
  if (!isNonEmptyString(poolId)) return refused('poolId must be a non-empty string');
  if (!isNonEmptyString(jackpotId)) return refused('jackpotId must be a non-empty string');
  if (!isPoolId(poolId, jackpotId)) return refused('poolId must be "{jackpotId}:{tier}"');
  if (!isIntegerAtLeast(cycle, 1)) return refused('cycle must be an integer >= 1');
  const amount = readMinorAmount(amountMinor);
  if (amount === null) return refused('amountMinor must be an integer from 0 to 2^53 - 1');
  if (!isIntegerAtLeast(version, 1)) return refused('version must be an integer >= 1');
  if (!isIsoTimestamp(updatedAt)) return refused('updatedAt must be an ISO 8601 timestamp');
  return decoded({ poolId, jackpotId, cycle, amountMinor: amount, version, updatedAt });
}
