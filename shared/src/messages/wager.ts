/**
 * `jackpot.wagers.v1` (key `playerId`): a wager as a game server sends it, JSON, UTF-8,
 * `{eventId, occurredAt, gameId, playerId, currency, amountMinor}`. Written by the producer
 * library (game servers, the gateway, the load generator); read by the aggregator.
 *
 * The split: this module owns the wire form (the type writers fill in, the encoder, the key);
 * reading is `parseWager` of the pure domain (`domain/wager.ts`), re-exported here, because what a
 * bad wager is, and the reason code it is dead-lettered with, is a rule of the domain, shared by
 * the gateway's validation of HTTP bodies. Its result is a wager or a reason code, never a throw.
 */
export { parseWager, type WagerParseResult } from '../domain/wager.js';

/**
 * The `v1` of the topic's name: a change a reader of v1 cannot read is a new module and topic.
 * Exported as part of the module's public API (type, encode, decode, version) for readers outside
 * this repository; inside it only the tests read it.
 */
export const WAGER_SCHEMA_VERSION = 1;

/** A wager as the contract writes it. */
export interface WagerMessage {
  readonly eventId: string;
  readonly occurredAt: string;
  readonly gameId: string;
  readonly playerId: string;
  readonly currency: string;
  readonly amountMinor: number;
}

/** The contract's fields only, in the contract's order: extra properties of the caller's object never leak. */
export function encodeWager(wager: WagerMessage): Buffer {
  return Buffer.from(
    JSON.stringify({
      eventId: wager.eventId,
      occurredAt: wager.occurredAt,
      gameId: wager.gameId,
      playerId: wager.playerId,
      currency: wager.currency,
      amountMinor: wager.amountMinor,
    }),
    'utf8',
  );
}

/** The Kafka message: key `playerId`, so one player's wagers stay in order on one partition. */
export function wagerRecord(wager: WagerMessage): { readonly key: string; readonly value: Buffer } {
  return { key: wager.playerId, value: encodeWager(wager) };
}
