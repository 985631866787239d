/**
 * Ledger rows in Postgres's binary COPY format, for `sql.COPY_LEDGER`
 * (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"). Pure: bytes in, bytes
 * out, no I/O.
 *
 * One row a wager (`jackpot.ledger`, migration 0009): the wager's columns once, then its share of
 * each pool as five parallel arrays (pool ids, cycles, contribution, overflow and reserve micro).
 * The contract's `jackpot.contributions` is a view that unnests them into one row a wager and pool.
 * Four pools a wager: a quarter of the tuples and two thirds of the bytes of one row a pool, and
 * the COPY phase of a 10,000-wager window went from ~105 to ~40 ms (README, "Performance of the
 * write path").
 *
 * Binary rather than text because then Postgres parses nothing (timestamps, UUIDs and integers
 * arrive in its own representation): on this 2-core machine 40,000 ledger rows, one window, went
 * in in ~105 ms instead of ~180 ms, and that COPY runs while the window holds its pool locks, so
 * the next window waits for exactly that long. Node writes the bytes itself instead of building,
 * flattening and UTF-8-encoding strings, which was the larger part of its own cost of a COPY.
 *
 * Exactness: every value must be stored exactly as the text format stored it before. Integers
 * and UUIDs are trivially the same; `occurred_at` goes through `timestampMicros`, which rounds a
 * fraction of a second to microseconds exactly as Postgres's own parser does.
 */
import type { LedgerRowSink, Wager } from '../../../shared/src/domain/index.js';
import { parseTimestampMs } from '../../../shared/src/domain/index.js';

/** Columns per row, in the order of `sql.COPY_LEDGER`. */
const FIELDS = 12;
/** Element type OIDs of the share arrays (pg_type). */
const TEXT_OID = 25;
const INT4_OID = 23;
const INT8_OID = 20;
/** A one-dimensional array's header: ndim, has-nulls flag, element type, length, lower bound. */
const ARRAY_HEADER = 20;
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;
/** Default chunk: large enough that per-chunk costs vanish, small enough to keep memory flat. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Microseconds since 2000-01-01T00:00:00Z of an RFC 3339 timestamp, as Postgres stores it in a
 * timestamptz: the fraction of a second is read as a double and rounded half to even to whole
 * microseconds (`rint(strtod(".fff") * 1e6)` in its `ParseFractionalSecond`), so 7 to 9 fraction
 * digits round exactly as they would in a text COPY. Throws RangeError for anything
 * `parseTimestampMs` refuses.
 */
export function timestampMicros(text: string): bigint {
  const ms = parseTimestampMs(text);
  if (ms === null) throw new RangeError(`not an RFC 3339 timestamp: ${JSON.stringify(text)}`);
  // `YYYY-MM-DDTHH:MM:SS` is 19 characters; a fraction, when present, starts right after it.
  let millis = 0;
  let fractionMicros = 0;
  if (text.charCodeAt(19) === 0x2e) {
    // At most 9 digits (parseTimestampMs checked): their integer value and 10^digits are exact
    // doubles, and IEEE division rounds correctly, so this is the double strtod gives for them.
    let value = 0;
    let scale = 1;
    for (let i = 20; i < text.length; i++) {
      const d = text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      scale *= 10;
      if (scale === 1000) millis = value;
    }
    if (scale < 1000) millis = value * (1000 / scale);
    fractionMicros = roundHalfEven((value / scale) * 1e6);
  }
  // `ms` counts the truncated milliseconds of the fraction: take them out, add the rounded microseconds.
  return BigInt(ms - millis - PG_EPOCH_MS) * 1000n + BigInt(fractionMicros);
}

/** C's `rint` in the default rounding mode, for non-negative x. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 === 1 ? r - 1 : r;
}

/** The value of each ASCII hex digit by character code, -1 for every other character below 128. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let d = 0; d < 10; d++) HEX_VALUE[0x30 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX_VALUE[0x41 + d] = 10 + d;
  HEX_VALUE[0x61 + d] = 10 + d;
}
/** Where the 32 hex digits of a canonical UUID are: every position but the four dashes. */
const UUID_DIGITS = Int32Array.from(
  Array.from({ length: 36 }, (_, i) => i).filter((i) => i !== 8 && i !== 13 && i !== 18 && i !== 23),
);

/**
 * The 16 bytes of a UUID in its canonical 8-4-4-4-12 form; RangeError for anything else. A table
 * lookup a digit: the branches of a per-character parse were ~0.35 µs a wager (now ~0.14).
 */
function writeUuid(buf: Uint8Array, off: number, uuid: string): void {
  if (
    uuid.length !== 36 ||
    uuid.charCodeAt(8) !== 0x2d ||
    uuid.charCodeAt(13) !== 0x2d ||
    uuid.charCodeAt(18) !== 0x2d ||
    uuid.charCodeAt(23) !== 0x2d
  ) {
    throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
  }
  let bad = 0;
  for (let b = 0; b < 16; b++) {
    const high = hexDigit(uuid.charCodeAt(UUID_DIGITS[2 * b] as number));
    const low = hexDigit(uuid.charCodeAt(UUID_DIGITS[2 * b + 1] as number));
    bad |= high | low;
    buf[off + b] = (high << 4) | low;
  }
  if (bad < 0) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
}

/** A hex digit's value, or -1 for any other UTF-16 code unit. */
const hexDigit = (c: number): number => (c < 128 ? (HEX_VALUE[c] as number) : -1);

/**
 * Refuses what Postgres text cannot hold rather than let COPY fail or the data change: NUL, and a
 * lone UTF-16 surrogate, which has no UTF-8 form (Buffer would silently write U+FFFD).
 */
function checkText(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) throw new RangeError('text for Postgres cannot contain NUL (U+0000)');
    if (c >= 0xd800 && c <= 0xdfff) {
      const pairs = c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (!pairs) throw new RangeError('text for Postgres cannot contain a lone UTF-16 surrogate');
      i++;
    }
  }
}

/** A DataView on `buf`: DataView's setters are ~10× faster than Buffer's write*BE. */
function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * A text field (int32 length, UTF-8 bytes) at `off`; returns the offset after it. Room for
 * `textBytes(text)` is the caller's. ASCII without NUL (all that the wager's identifiers may
 * hold) is copied a code unit a byte: Buffer's UTF-8 encoder is a native call, which for a
 * 10-character id cost more than the copy. Anything else goes through `checkText` and that encoder.
 */
function writeText(buf: Buffer, view: DataView, off: number, text: string): number {
  const len = text.length;
  let p = off + 4;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0x7f) {
      checkText(text);
      const n = buf.write(text, off + 4, 'utf8');
      view.setInt32(off, n);
      return off + 4 + n;
    }
    buf[p++] = c;
  }
  view.setInt32(off, len);
  return p;
}

/**
 * Throws what Postgres would have answered for a value outside the int8 range (DataView would
 * wrap it silently), SQLSTATE 22003, so the aggregator treats it as the data error it is.
 */
function checkInt8(value: bigint): void {
  if (value > INT8_MAX || value < INT8_MIN)
    throw Object.assign(new RangeError(`${value} is out of range for a Postgres bigint`), { code: '22003' });
}

const INT8_MAX = 2n ** 63n - 1n;
const INT8_MIN = -(2n ** 63n);
const TWO_32 = 2 ** 32;

/**
 * An int8 field of a safe integer, without a BigInt: the high word is `floor(v / 2^32)` and the
 * low word the rest (0..2^32-1), both exact for |v| < 2^53, two's complement for negative `v`.
 */
function writeSafeInt8(view: DataView, off: number, value: number): number {
  const high = Math.floor(value / TWO_32);
  view.setInt32(off, 8);
  view.setInt32(off + 4, high);
  view.setUint32(off + 8, value - high * TWO_32);
  return off + 12;
}

/** Worst-case bytes of a text field: UTF-8 needs at most 3 bytes per UTF-16 code unit. */
const textBytes = (text: string): number => 4 + 3 * text.length;

/** Encodes ledger rows, one wager and pool at a time, as binary COPY data of one row a wager. */
export interface LedgerEncoder {
  /** Takes one wager's share of one pool; give it to `planBatch` as `onRow`. */
  readonly row: LedgerRowSink;
  /** Shares taken so far: rows of the contract's `jackpot.contributions`. */
  readonly count: () => number;
  /** Rows of `jackpot.ledger` (wagers) written so far, the one in progress included. */
  readonly wagers: () => number;
  /** The COPY data, in chunks of about `chunkBytes`: header, rows, trailer. Call once, last. */
  readonly finish: () => Buffer[];
}

/**
 * An encoder that writes each wager's row straight into chunk buffers (outside the JavaScript
 * heap, so a window's rows cost the garbage collector nothing). The shares of one wager come one
 * after another with the same `Wager` and rate, and are gathered into one row; should a wager's
 * shares ever come apart, it gets one row for each run of them, which the view reads the same.
 *
 * A wager's own columns are written into the chunk when its first share comes; its shares are
 * kept (references to the values the planner made, no copies) until the wager is complete, then
 * written behind them as the five arrays. Every value is checked when its share comes, so a bad
 * one throws from `row`, at the share that carries it.
 */
export function createLedgerEncoder(chunkBytes = CHUNK_BYTES): LedgerEncoder {
  const chunks: Buffer[] = [];
  let buf = Buffer.allocUnsafe(chunkBytes);
  let view = viewOf(buf);
  buf.set(SIGNATURE, 0);
  view.setInt32(11, 0); // flags: no OIDs
  view.setInt32(15, 0); // no header extension
  /** The end of the complete rows in `buf`. */
  let off = 19;
  let count = 0;
  let rows = 0;

  // The wager in progress: its columns in `buf` from `off` to `prefixEnd`, its shares gathered.
  let prefixEnd = off;
  let lastWager: Wager | undefined;
  let lastFx: bigint | null = null;
  let timestampText = '';
  let timestamp = 0n;
  const poolIds = new Map<string, Buffer>();
  let n = 0;
  let poolBytes = 0;
  // Written by index and never shortened: a wager reuses the slots of the one before.
  const pools: Buffer[] = [];
  const cycles: number[] = [];
  const contributions: bigint[] = [];
  const overflows: bigint[] = [];
  const reserves: bigint[] = [];

  /** Ends the chunk at `off` (when it holds anything) and starts one of at least `bytes`. */
  const nextChunk = (bytes: number): Buffer => {
    const old = buf;
    if (off > 0) chunks.push(old.subarray(0, off));
    buf = Buffer.allocUnsafe(Math.max(chunkBytes, bytes));
    view = viewOf(buf);
    return old;
  };

  const arrayHeader = (at: number, bytes: number, oid: number): number => {
    view.setInt32(at, bytes);
    view.setInt32(at + 4, 1);
    view.setInt32(at + 8, 0);
    view.setInt32(at + 12, oid);
    view.setInt32(at + 16, n);
    view.setInt32(at + 20, 1);
    return at + 4 + ARRAY_HEADER;
  };
  /** Values checked by `checkInt8` when their share came. */
  const int8Array = (at: number, values: readonly bigint[]): number => {
    let p = arrayHeader(at, ARRAY_HEADER + 12 * n, INT8_OID);
    for (let i = 0; i < n; i++) {
      view.setInt32(p, 8);
      view.setBigInt64(p + 4, values[i] as bigint);
      p += 12;
    }
    return p;
  };

  /** Completes the wager in progress, if any: its arrays behind its columns. */
  const flush = (): void => {
    if (n === 0) return;
    const arrays = 5 * (4 + ARRAY_HEADER) + poolBytes + 8 * n + 3 * 12 * n;
    if (prefixEnd + arrays > buf.length) {
      // The row moves to a new chunk, its columns with it.
      const prefixBytes = prefixEnd - off;
      const start = off;
      const old = nextChunk(prefixBytes + arrays + 2);
      old.copy(buf, 0, start, prefixEnd);
      off = 0;
      prefixEnd = prefixBytes;
    }
    let p = arrayHeader(prefixEnd, ARRAY_HEADER + poolBytes, TEXT_OID);
    for (let i = 0; i < n; i++) {
      const b = pools[i] as Buffer;
      buf.set(b, p);
      p += b.length;
    }
    p = arrayHeader(p, ARRAY_HEADER + 8 * n, INT4_OID);
    for (let i = 0; i < n; i++) {
      view.setInt32(p, 4);
      view.setInt32(p + 4, cycles[i] as number);
      p += 8;
    }
    p = int8Array(p, contributions);
    p = int8Array(p, overflows);
    off = int8Array(p, reserves);
    prefixEnd = off;
    n = 0;
    poolBytes = 0;
  };

  /** The wager's columns at `off`, after the field count; the row's arrays come in `flush`. */
  const begin = (wager: Wager, fxRateMicro: bigint | null): void => {
    const need =
      2 + 20 + 12 + textBytes(wager.gameId) + textBytes(wager.playerId) + textBytes(wager.currency) + 12 + 12;
    if (off + need > buf.length) {
      nextChunk(need + 2);
      off = 0;
    }
    view.setInt16(off, FIELDS);
    view.setInt32(off + 2, 16);
    writeUuid(buf, off + 6, wager.eventId);
    // Wagers of one moment share their occurredAt text (a game server stamps a tick at once).
    if (wager.occurredAt !== timestampText) {
      timestamp = timestampMicros(wager.occurredAt);
      timestampText = wager.occurredAt;
    }
    checkInt8(timestamp);
    view.setInt32(off + 22, 8);
    view.setBigInt64(off + 26, timestamp);
    let p = writeText(buf, view, off + 34, wager.gameId);
    p = writeText(buf, view, p, wager.playerId);
    p = writeText(buf, view, p, wager.currency);
    if (!Number.isSafeInteger(wager.amountMinor)) {
      throw new RangeError(`wagerMinor must be a safe integer, got ${wager.amountMinor}`);
    }
    p = writeSafeInt8(view, p, wager.amountMinor);
    if (fxRateMicro === null) {
      view.setInt32(p, -1);
      p += 4;
    } else {
      checkInt8(fxRateMicro);
      view.setInt32(p, 8);
      view.setBigInt64(p + 4, fxRateMicro);
      p += 12;
    }
    prefixEnd = p;
    lastWager = wager;
    lastFx = fxRateMicro;
    rows++;
  };

  const row: LedgerRowSink = (
    wager,
    fxRateMicro,
    poolId,
    cycle,
    contributionMicro,
    overflowMicro,
    reserveMicro,
  ) => {
    if (wager !== lastWager || fxRateMicro !== lastFx) {
      flush();
      begin(wager, fxRateMicro);
    }
    let pool = poolIds.get(poolId);
    if (pool === undefined) {
      const b = Buffer.allocUnsafe(textBytes(poolId));
      pool = b.subarray(0, writeText(b, viewOf(b), 0, poolId));
      poolIds.set(poolId, pool);
    }
    if (!Number.isInteger(cycle) || cycle < -(2 ** 31) || cycle > 2 ** 31 - 1) {
      throw new RangeError(`cycle must be an int4, got ${cycle}`);
    }
    checkInt8(contributionMicro);
    checkInt8(overflowMicro);
    checkInt8(reserveMicro);
    pools[n] = pool;
    cycles[n] = cycle;
    contributions[n] = contributionMicro;
    overflows[n] = overflowMicro;
    reserves[n] = reserveMicro;
    poolBytes += pool.length;
    n++;
    count++;
  };

  return {
    row,
    count: () => count,
    wagers: () => rows,
    finish: () => {
      flush();
      if (off + 2 > buf.length) {
        chunks.push(buf.subarray(0, off));
        buf = Buffer.allocUnsafe(2);
        view = viewOf(buf);
        off = 0;
      }
      view.setInt16(off, -1); // trailer
      chunks.push(buf.subarray(0, off + 2));
      return chunks;
    },
  };
}
