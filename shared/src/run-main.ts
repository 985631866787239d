/**
 * The tail of every command-line entry point: when this module is the one Node was started with,
 * run `main` and exit with its code (0 when it returns nothing); print a thrown error's message,
 * prefixed with `label`, and exit 1. Imported as a library, the module runs nothing.
 */
import { pathToFileURL } from 'node:url';
import { toError } from './errors.js';

export function runIfMain(moduleUrl: string, main: () => Promise<number | void>, label?: string): void {
  const entry = process.argv[1];
  if (entry === undefined || moduleUrl !== pathToFileURL(entry).href) return;
  main().then(
    (code) => process.exit(code ?? 0),
    (e: unknown) => {
      console.error(`${label === undefined ? '' : `${label}: `}${toError(e).message}`);
      process.exit(1);
    },
  );
}
