/**
 * Finding the message that fails a window. A window whose data makes it fail (`isPoison`) is split
 * in two, each half written on its own, down to the single message that fails alone: that one is
 * dead-lettered as `unprocessable` with the error, and everything else is applied. Halves keep
 * offset order, so the fence sees each partition's messages in sequence.
 */
import { toError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logger.js';
import type { Slice, WindowInput, WindowOutcome } from './apply-window.js';

/** One window transaction over `slices`, every message dead-lettered when `deadLetterAll` is set. */
export type ApplySlices = (
  slices: readonly Slice[],
  deadLetterAll?: WindowInput['deadLetterAll'],
) => Promise<WindowOutcome>;

/**
 * A window's error that its data caused, so that a smaller window without the culprit succeeds:
 * SQLSTATE class 22 (data exception, such as a bigint out of range, also raised by the binary
 * COPY encoder) or 23 (integrity constraint). Anything else (connection loss, a
 * fence refusal, a bug that fails every window) fails the window as a whole: splitting it would
 * dead-letter good wagers.
 */
function isPoison(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Two halves of a window, in offset order within each partition. */
function halve(slices: readonly Slice[]): [Slice[], Slice[]] {
  if (slices.length > 1) {
    const mid = Math.ceil(slices.length / 2);
    return [slices.slice(0, mid), slices.slice(mid)];
  }
  const [only] = slices as [Slice];
  const mid = Math.ceil(only.messages.length / 2);
  const head = only.messages.slice(0, mid);
  const last = head[head.length - 1];
  return [
    [{ ...only, messages: head }],
    [
      {
        partition: only.partition,
        messages: only.messages.slice(mid),
        ...(last === undefined ? {} : { fetchedFrom: (BigInt(last.offset) + 1n).toString() }),
      },
    ],
  ];
}

function mergeOutcomes(a: WindowOutcome, b: WindowOutcome): WindowOutcome {
  const rejected = new Map(a.rejected);
  for (const [reason, n] of b.rejected) rejected.set(reason, (rejected.get(reason) ?? 0) + n);
  const positions = new Map([...a.positions, ...b.positions].map((p) => [p.partition, p.nextOffset]));
  return {
    applied: a.applied + b.applied,
    duplicates: a.duplicates + b.duplicates,
    alreadyApplied: a.alreadyApplied + b.alreadyApplied,
    rejected,
    ledgerRows: a.ledgerRows + b.ledgerRows,
    mysteryWins: a.mysteryWins + b.mysteryWins,
    poolUpdates: [...a.poolUpdates, ...b.poolUpdates],
    positions: [...positions].map(([partition, nextOffset]) => ({ partition, nextOffset })),
    gaps: [...a.gaps, ...b.gaps],
    unpositioned: [...new Set([...a.unpositioned, ...b.unpositioned])],
  };
}

/** Applies `slices` with `apply`, splitting the window to isolate a poison message (see above). */
export async function applyIsolating(
  slices: readonly Slice[],
  apply: ApplySlices,
  opts: { readonly logger: Logger; readonly onSplit: () => void },
): Promise<WindowOutcome> {
  try {
    return await apply(slices);
  } catch (e) {
    if (!isPoison(e)) throw e;
    const events = slices.reduce((n, s) => n + s.messages.length, 0);
    if (events === 1) {
      const only = slices[0];
      const err = toError(e);
      opts.logger.error(
        { err, partition: only?.partition, offset: only?.messages[0]?.offset },
        'a message fails every window it is in; dead-lettered as unprocessable',
      );
      return apply(slices, { reason: 'unprocessable', message: `${err.message}`.slice(0, 500) });
    }
    opts.onSplit();
    opts.logger.warn(
      { err: toError(e).message, events },
      'window failed on its data; splitting it to find the message',
    );
    const [a, b] = halve(slices);
    const first = await applyIsolating(a, apply, opts);
    return mergeOutcomes(first, await applyIsolating(b, apply, opts));
  }
}
