/**
 * The read API's JSON of a pool. Pure. (The topic's message is `shared/src/messages/pool-update.ts`.)
 */
import type { PoolView } from './projection.js';

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
