/**
 * The jackpot domain: pure functions, no I/O, no clock (time comes in as epoch milliseconds).
 *
 * Glossary
 * - **Wager**: one bet placed by a player in a game; the input event, identified by `eventId`
 *   (a UUID: a retry carries the same one and is counted once).
 * - **Jackpot**: a named program with one currency and one or more pools. A game is linked to at
 *   most one jackpot; every wager in a linked game contributes to each of its pools.
 * - **Pool**: one tier of a jackpot (mini, minor, major, grand), id `"{jackpotId}:{tier}"`. Its
 *   parameters: seed (reset value), `contributionPpm` (visible share of each wager, parts per
 *   million), `reservePpm` (hidden share that funds the next reset).
 * - **Cycle**: the life of a pool between two wins, numbered from 1. Every contribution is booked
 *   to exactly one cycle of its pool.
 * - **Contribution**: `amountMinor * contributionPpm`, in micro-units. Exact integer arithmetic:
 *   no floating point, no rounding, ever.
 * - **Micro-unit**: 1/1,000,000 of a minor unit (a cent, for EUR). The displayed amount is
 *   `floor(micro / 1e6)` minor units; the fraction carries over, never lost.
 * - **Window**: a micro-batch of wagers written to Postgres in one transaction; it closes when it
 *   holds `maxEvents` or its oldest wager has waited `maxWaitMs`.
 */

export * from './batch.js';
export * from './civil-date.js';
export * from './contribution.js';
export * from './jackpot-config.js';
export * from './partitions.js';
export * from './token-bucket.js';
export * from './tsv.js';
export * from './wager.js';
export * from './window.js';
