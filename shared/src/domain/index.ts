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
 * - **Seed**: the amount a cycle starts at, funded from the pool's hidden **reserve** (fed by
 *   `reservePpm` of each wager); what the reserve cannot fund is the operator's **top-up**.
 * - **Ceiling** and **overflow**: an optional cap on the visible amount; the part of a contribution
 *   above it goes to the reserve or is held and carried into the next cycle (the pool's policy).
 * - **Mystery pool**: a pool with `mustHitBy`; a hidden **trigger** is drawn in whole minor units
 *   between the seed and must-hit-by when a cycle starts, and the wager that takes the amount to
 *   it wins exactly the trigger. A **claim** is a win reported by a game: it pays the whole minor
 *   units of the amount.
 * - **Carry**: what a cycle hands to the next one: the fraction left by a claim, the excess of a
 *   mystery hit over its trigger, and held overflow.
 * - **Rate** (fx): the value of 1 minor unit of a wager's currency in micro-units of its jackpot's.
 * - **Window**: a micro-batch of wagers written to Postgres in one transaction; it closes when it
 *   holds `AGGREGATOR_BATCH_MAX_EVENTS` wagers, or when a writer is free to start it once a fetch
 *   landed (the broker holds a fetch up to `AGGREGATOR_BATCH_MAX_WAIT_MS`;
 *   `services/aggregator/src/window-queue.ts`).
 */

export * from './batch.js';
export * from './civil-date.js';
export * from './contribution.js';
export * from './fx.js';
export * from './jackpot-config.js';
export * from './lifecycle.js';
export * from './partitions.js';
export * from './positions.js';
export * from './token-bucket.js';
export * from './wager.js';
