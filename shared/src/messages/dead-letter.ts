/**
 * `jackpot.wagers.dlq.v1`: every event the aggregator did not apply, as it arrived (original key,
 * original bytes) with two headers: `x-dlq-reason` (a reason code, the contract's) and
 * `x-dead-letter-id` (the row of `jackpot.dead_letters`, this implementation's). Written by the
 * outbox relay, at least once: a reader drops copies by the id.
 */
import { REASON_CODES, type ReasonCode } from '../domain/wager.js';
import { decoded, refused, type DecodeResult } from './decoding.js';

/**
 * The `v1` of the topic's name: a change a reader of v1 cannot read is a new module and topic.
 * Exported as part of the module's public API (type, encode, decode, version) for readers outside
 * this repository; inside it only the tests read it.
 */
export const DEAD_LETTER_SCHEMA_VERSION = 1;

const DLQ_REASON_HEADER = 'x-dlq-reason';
const DEAD_LETTER_ID_HEADER = 'x-dead-letter-id';

export interface DeadLetterMessage {
  /** `jackpot.dead_letters.id`, a positive integer in decimal. */
  readonly id: string;
  readonly reason: ReasonCode;
  /** The original message's key and value, byte for byte (an empty value for a tombstone). */
  readonly key: Buffer | null;
  readonly payload: Buffer;
}

/** Kafka headers as kafkajs hands them over (a header may repeat). */
export type WireHeaders = Readonly<
  Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>
>;

export function deadLetterRecord(d: DeadLetterMessage): {
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
} {
  return {
    key: d.key,
    value: d.payload,
    headers: { [DLQ_REASON_HEADER]: d.reason, [DEAD_LETTER_ID_HEADER]: d.id },
  };
}

const DECIMAL_ID = /^[1-9]\d{0,18}$/;
const isReasonCode = (v: string): v is ReasonCode => REASON_CODES.some((r) => r === v);

/** One header's value as text; a repeated or missing header is no value. */
function header(headers: WireHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || Array.isArray(v)) return undefined;
  return typeof v === 'string' ? v : (v as Buffer).toString('utf8');
}

/**
 * Checks both headers; the key and value are the original bytes and are not read. Nothing in this
 * repository consumes the dead-letter topic (operators redrive from `jackpot.dead_letters`), so
 * only the tests call it: it is the module's public reader, for a consumer of the contract.
 */
export function decodeDeadLetter(record: {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: WireHeaders;
}): DecodeResult<DeadLetterMessage> {
  const reason = header(record.headers, DLQ_REASON_HEADER);
  if (reason === undefined) return refused(`one ${DLQ_REASON_HEADER} header expected`);
  if (!isReasonCode(reason))
    return refused(`${DLQ_REASON_HEADER} ${JSON.stringify(reason)} is not a reason code`);
  const id = header(record.headers, DEAD_LETTER_ID_HEADER);
  if (id === undefined || !DECIMAL_ID.test(id))
    return refused(`${DEAD_LETTER_ID_HEADER} must be a positive integer`);
  return decoded({ id, reason, key: record.key, payload: record.value ?? Buffer.alloc(0) });
}
