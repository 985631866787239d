/**
 * Forward-only numbered SQL migrations (`infra/migrations/NNNN_name.sql`), each applied in its own
 * transaction and recorded in `public.schema_migrations`. An advisory lock makes concurrent runners
 * (stack:up, tests, several replicas) wait for each other instead of racing.
 *
 * Usage: `npm run migrate` (DATABASE_URL, creating the database when missing).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../shared/src/config.js';
import { runIfMain } from '../shared/src/run-main.js';
import { MIGRATIONS_DIR } from './paths.js';

const LOCK_KEY = 7_351_906_001; // any constant; shared by every runner of this project

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file, i) => {
      const id = Number(file.slice(0, 4));
      if (id !== i + 1) throw new Error(`migration ${file} is out of sequence: expected number ${i + 1}`);
      return { id, name: file, sql: await readFile(join(MIGRATIONS_DIR, file), 'utf8') };
    }),
  );
}

export async function migrate(
  databaseUrl: string,
  log: (line: string) => void = () => undefined,
): Promise<number> {
  const migrations = await loadMigrations();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'jackpot-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS public.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ id: number }>('SELECT id FROM public.schema_migrations')).rows.map((r) => r.id),
    );
    let applied = 0;
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO public.schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
      }
      applied++;
      log(`applied ${m.name}`);
    }
    log(
      applied === 0
        ? `schema up to date (${migrations.length} migrations)`
        : `${applied} migration(s) applied`,
    );
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

/** Creates the database named in the URL when it is missing (connecting to `postgres` on the same server). */
export async function createDatabaseIfMissing(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (name === '' || name === 'postgres') return false;
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } catch (e) {
      // 42P04: another runner created it a moment ago.
      if ((e as { code?: string }).code !== '42P04') throw e;
    }
    return true;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const url = process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL;
  if (await createDatabaseIfMissing(url)) console.log(`created database ${new URL(url).pathname.slice(1)}`);
  await migrate(url, (line) => console.log(line));
}

runIfMain(import.meta.url, main);
