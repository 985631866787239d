/**
 * What the suite prints: every line stamped with seconds since the run started, and every injected
 * fault also kept for the closing summary.
 */
export interface FaultRecord {
  readonly atSeconds: number;
  readonly kind: string;
  readonly detail: string;
}

export interface Journal {
  say(line: string): void;
  /** An injected fault: printed as `FAULT kind: detail` and kept for the summary. */
  fault(kind: string, detail: string): void;
  faults(): readonly FaultRecord[];
  seconds(): number;
}

export function createJournal(write: (text: string) => void = (t) => process.stdout.write(t)): Journal {
  const t0 = Date.now();
  const faults: FaultRecord[] = [];
  const seconds = (): number => (Date.now() - t0) / 1000;
  const stamp = (s: number): string => `[${s.toFixed(1).padStart(6)} s]`;
  return {
    say(line) {
      write(`${stamp(seconds())} ${line}\n`);
    },
    fault(kind, detail) {
      const at = seconds();
      faults.push({ atSeconds: at, kind, detail });
      write(`${stamp(at)} FAULT ${kind}: ${detail}\n`);
    },
    faults: () => faults,
    seconds,
  };
}
