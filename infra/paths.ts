/**
 * Where the repository is, the same from the sources (`infra/`), from the build (`dist/infra/`)
 * and in the image (`/app/dist/infra/`): the nearest directory above this module that holds
 * package.json. A fixed `..` would point into `dist/` once compiled.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The SQL migrations, read from the sources in every mode (the build does not copy them). */
export const MIGRATIONS_DIR = join(REPO_ROOT, 'infra', 'migrations');
