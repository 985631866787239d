/**
 * A fresh, migrated database per test file on the real Postgres (DATABASE_URL's server), dropped
 * after the file. Each file runs in its own process, so files never see each other's rows. Tests
 * of the migrations themselves start from an empty one instead (`createEmptyTestDatabase`).
 */
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../../shared/src/config.js';
import { createPool } from '../../shared/src/db.js';
import { migrate } from '../../infra/migrate.js';

export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
}

function serverUrl(database: string): string {
  const url = new URL(process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function newDatabase(): Promise<{ name: string; url: string }> {
  const name = `jackpot_test_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return { name, url: serverUrl(name) };
}

const dropDatabase = (name: string): Promise<unknown> =>
  admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

export async function createTestDatabase(): Promise<TestDatabase> {
  const { name, url } = await newDatabase();
  await migrate(url);
  const pool = createPool(url, { max: 5, applicationName: 'jackpot-test' });
  after(async () => {
    await pool.end();
    await dropDatabase(name);
  });
  return { url, pool };
}

/** A fresh database with no migration applied and one client connected to it, dropped after the file. */
export async function createEmptyTestDatabase(): Promise<{ url: string; client: pg.Client }> {
  const { name, url } = await newDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  after(async () => {
    await client.end();
    await dropDatabase(name);
  });
  return { url, client };
}
