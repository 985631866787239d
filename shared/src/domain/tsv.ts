/**
 * Rows for `COPY ... FROM STDIN` in Postgres's text format (the default format, tab-delimited).
 * See https://www.postgresql.org/docs/current/sql-copy.html, "Text Format".
 */

/** A column value. `null` is SQL NULL; `{ bytea }` is binary data for a `bytea` column. */
export type TsvField = string | number | bigint | null | { readonly bytea: Uint8Array };

// Backslash first in meaning: every other escape introduces one, so it must itself be doubled.
// Tab, newline and carriage return would otherwise end the field or the row.
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES = /[\\\t\n\r]/g;
const ESCAPE_OF: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
// Lone UTF-16 surrogates have no UTF-8 form: written out they would silently become U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Escapes one text value. Throws RangeError for NUL (Postgres text cannot hold it) and for lone
 * surrogates (not representable in UTF-8), rather than let COPY fail or the data change.
 */
export function escapeText(text: string): string {
  // One pass over the code units: almost every value (ids, timestamps, currencies) is printable
  // ASCII and comes back as is. Anything below U+0020, a backslash or a surrogate takes the
  // careful road. Three regular expressions per value were a visible share of a window's COPY.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return escapeSlowly(text);
  }
  return text;
}

function escapeSlowly(text: string): string {
  if (text.includes('\u0000')) throw new RangeError('text for Postgres cannot contain NUL (U+0000)');
  if (LONE_SURROGATE.test(text))
    throw new RangeError('text for Postgres cannot contain a lone UTF-16 surrogate');
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPES, (c) => ESCAPE_OF[c] ?? c) : text;
}

/**
 * bytea in hex format, `\x0aff…`, with that leading backslash escaped for COPY text: `\\x0aff…`.
 */
export function encodeBytea(bytes: Uint8Array): string {
  let out = '\\\\x';
  for (const b of bytes) out += HEX[b] ?? '';
  return out;
}

function encodeField(field: TsvField): string {
  if (field === null) return '\\N';
  switch (typeof field) {
    case 'string':
      return escapeText(field);
    case 'bigint':
      return field.toString();
    case 'number':
      // Money and counts are integers; a float here is a bug, and its text form (1e21, 0.1) would
      // be parsed differently by Postgres integer columns.
      if (!Number.isSafeInteger(field))
        throw new RangeError(`number fields must be safe integers, got ${field}`);
      return String(field);
    case 'object':
      if (field.bytea instanceof Uint8Array) return encodeBytea(field.bytea);
      break;
  }
  throw new TypeError(`not a TSV field: ${typeof field}`);
}

/** One row: fields joined by tab, ending in a newline. */
export function tsvRow(fields: readonly TsvField[]): string {
  let row = '';
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) row += '\t';
    row += encodeField(fields[i] as TsvField);
  }
  return `${row}\n`;
}
