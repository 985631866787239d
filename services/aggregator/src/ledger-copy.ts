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

/** The 16 bytes of a UUID in its canonical 8-4-4-4-12 form; RangeError for anything else. */
function writeUuid(buf: Uint8Array, off: number, uuid: string): void {
  if (uuid.length !== 36) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
  let i = 0;
  for (let b = 0; b < 16; b++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (uuid.charCodeAt(i) !== 0x2d) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
      i++;
    }
    buf[off + b] = (hexValue(uuid, i) << 4) | hexValue(uuid, i + 1);
    i += 2;
  }
}

function hexValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  throw new RangeError(`not a UUID: ${JSON.stringify(s)}`);
}

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

/** A buffer and a DataView on it: DataView's setters are ~10× faster than Buffer's write*BE. */
interface Out {
  readonly buf: Buffer;
  readonly view: DataView;
}

function out(bytes: number): Out {
  const buf = Buffer.allocUnsafe(bytes);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

/** A text field (int32 length, UTF-8 bytes) at `off`; returns the offset after it. */
function writeText(o: Out, off: number, text: string): number {
  checkText(text);
  const n = o.buf.write(text, off + 4, 'utf8');
  o.view.setInt32(off, n);
  return off + 4 + n;
}

/**
 * An int8 field. Outside the int8 range (DataView would wrap silently) it throws what Postgres
 * would have answered, SQLSTATE 22003, so the aggregator treats it as the data error it is.
 */
function writeInt8(o: Out, off: number, value: bigint): number {
  checkInt8(value);
  o.view.setInt32(off, 8);
  o.view.setBigInt64(off + 4, value);
  return off + 12;
}

function checkInt8(value: bigint): void {
  if (value > INT8_MAX || value < INT8_MIN)
    throw Object.assign(new RangeError(`${value} is out of range for a Postgres bigint`), { code: '22003' });
}

const INT8_MAX = 2n ** 63n - 1n;
const INT8_MIN = -(2n ** 63n);

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
 */
export function createLedgerEncoder(chunkBytes = CHUNK_BYTES): LedgerEncoder {
  const chunks: Buffer[] = [];
  let o = out(chunkBytes);
  o.buf.set(SIGNATURE, 0);
  o.view.setInt32(11, 0); // flags: no OIDs
  o.view.setInt32(15, 0); // no header extension
  let off = 19;
  let count = 0;
  let rows = 0;

  // The wager in progress: its columns encoded once, its shares gathered.
  let prefixOut = out(1024);
  let prefix = prefixOut.buf.subarray(0, 0);
  let lastWager: Wager | undefined;
  let lastFx: bigint | null = null;
  let timestampText = '';
  let timestamp = 0n;
  const poolIds = new Map<string, Buffer>();
  // The shares of the wager in progress, as array elements already encoded: one scratch buffer
  // per array, copied into the row behind its header when the wager is complete.
  let n = 0;
  let poolElems = out(1024);
  let poolBytes = 0;
  let cycleElems = out(1024);
  let cElems = out(1024);
  let oElems = out(1024);
  let rElems = out(1024);

  const arrayHeader = (at: number, bytes: number, oid: number): number => {
    o.view.setInt32(at, bytes);
    o.view.setInt32(at + 4, 1);
    o.view.setInt32(at + 8, 0);
    o.view.setInt32(at + 12, oid);
    o.view.setInt32(at + 16, n);
    o.view.setInt32(at + 20, 1);
    return at + 4 + ARRAY_HEADER;
  };
  const array = (at: number, elems: Out, bytes: number, oid: number): number => {
    const p = arrayHeader(at, ARRAY_HEADER + bytes, oid);
    elems.buf.copy(o.buf, p, 0, bytes);
    return p + bytes;
  };

  /** Writes the wager in progress, if any, as one row. */
  const flush = (): void => {
    if (n === 0) return;
    const rowBytes = 2 + prefix.length + 5 * (4 + ARRAY_HEADER) + poolBytes + 8 * n + 3 * 12 * n;
    if (off + rowBytes > o.buf.length) {
      chunks.push(o.buf.subarray(0, off));
      o = out(Math.max(chunkBytes, rowBytes + 2));
      off = 0;
    }
    o.view.setInt16(off, FIELDS);
    o.buf.set(prefix, off + 2);
    let p = off + 2 + prefix.length;
    p = array(p, poolElems, poolBytes, TEXT_OID);
    p = array(p, cycleElems, 8 * n, INT4_OID);
    p = array(p, cElems, 12 * n, INT8_OID);
    p = array(p, oElems, 12 * n, INT8_OID);
    off = array(p, rElems, 12 * n, INT8_OID);
    n = 0;
    poolBytes = 0;
  };

  /** `e` with room for `bytes` more after `used`, keeping what it holds. */
  const room = (e: Out, used: number, bytes: number): Out => {
    if (used + bytes <= e.buf.length) return e;
    const bigger = out(2 * (used + bytes));
    bigger.buf.set(e.buf.subarray(0, used), 0);
    return bigger;
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
      const need =
        20 + 12 + textBytes(wager.gameId) + textBytes(wager.playerId) + textBytes(wager.currency) + 12 + 12;
      if (prefixOut.buf.length < need) prefixOut = out(need);
      prefixOut.view.setInt32(0, 16);
      writeUuid(prefixOut.buf, 4, wager.eventId);
      // Wagers of one moment share their occurredAt text (a game server stamps a tick at once).
      if (wager.occurredAt !== timestampText) {
        timestamp = timestampMicros(wager.occurredAt);
        timestampText = wager.occurredAt;
      }
      let p = writeInt8(prefixOut, 20, timestamp);
      p = writeText(prefixOut, p, wager.gameId);
      p = writeText(prefixOut, p, wager.playerId);
      p = writeText(prefixOut, p, wager.currency);
      if (!Number.isSafeInteger(wager.amountMinor)) {
        throw new RangeError(`wagerMinor must be a safe integer, got ${wager.amountMinor}`);
      }
      p = writeInt8(prefixOut, p, BigInt(wager.amountMinor));
      if (fxRateMicro === null) {
        prefixOut.view.setInt32(p, -1);
        p += 4;
      } else {
        p = writeInt8(prefixOut, p, fxRateMicro);
      }
      prefix = prefixOut.buf.subarray(0, p);
      lastWager = wager;
      lastFx = fxRateMicro;
      rows++;
    }
    let pool = poolIds.get(poolId);
    if (pool === undefined) {
      const b = out(textBytes(poolId));
      pool = b.buf.subarray(0, writeText(b, 0, poolId));
      poolIds.set(poolId, pool);
    }
    if (!Number.isInteger(cycle) || cycle < -(2 ** 31) || cycle > 2 ** 31 - 1) {
      throw new RangeError(`cycle must be an int4, got ${cycle}`);
    }
    poolElems = room(poolElems, poolBytes, pool.length);
    poolElems.buf.set(pool, poolBytes);
    poolBytes += pool.length;
    cycleElems = room(cycleElems, 8 * n, 8);
    cycleElems.view.setInt32(8 * n, 4);
    cycleElems.view.setInt32(8 * n + 4, cycle);
    cElems = room(cElems, 12 * n, 12);
    writeInt8(cElems, 12 * n, contributionMicro);
    oElems = room(oElems, 12 * n, 12);
    writeInt8(oElems, 12 * n, overflowMicro);
    rElems = room(rElems, 12 * n, 12);
    writeInt8(rElems, 12 * n, reserveMicro);
    n++;
    count++;
  };

  return {
    row,
    count: () => count,
    wagers: () => rows,
    finish: () => {
      flush();
      if (off + 2 > o.buf.length) {
        chunks.push(o.buf.subarray(0, off));
        o = out(2);
        off = 0;
      }
      o.view.setInt16(off, -1); // trailer
      chunks.push(o.buf.subarray(0, off + 2));
      return chunks;
    },
  };
}
