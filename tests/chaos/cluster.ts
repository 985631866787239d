/**
 * The suite's own Kafka broker and Postgres cluster, so it can restart them: started with the
 * project's infra functions on ports other than the shared ones, and refused outright when
 * something the project did not start answers there (restarting that is not ours to do).
 */
import pg from 'pg';
import { kafkaStatus, startKafka, stopKafka } from '../../infra/kafka.js';
import { isProcessAlive, sleep } from '../../infra/processes.js';
import { migrate } from '../../infra/migrate.js';
import { ensurePostgres, startedClusters, stopPostgres } from '../../infra/postgres.js';
import type { Journal } from './journal.js';

/** The services' application names (their `createPool` calls): whose connections are killed. */
const SERVICE_APPLICATION_NAMES = ['jackpot-aggregator', 'ingest', 'projector'] as const;

export interface OwnInfra {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** Starts (or reuses) the broker and the cluster, checks they are ours, gives the run a fresh migrated database. */
  up(): Promise<void>;
  restartKafka(how: { sigkill: boolean; downMs: number }): Promise<void>;
  restartPostgres(how: { downMs: number }): Promise<void>;
  /** pg_terminate_backend of every service connection to the run's database; resolves with the count per application. */
  killConnections(): Promise<Map<string, number>>;
  down(): Promise<void>;
}

function maintenanceUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  return url.toString();
}

async function withMaintenance<T>(databaseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: maintenanceUrl(databaseUrl),
    application_name: 'chaos-suite',
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function ownInfra(opts: {
  kafkaPort: number;
  pgPort: number;
  database: string;
  journal: Journal;
}): OwnInfra {
  const brokers = [`127.0.0.1:${opts.kafkaPort}`];
  const databaseUrl = `postgres://postgres@127.0.0.1:${opts.pgPort}/${opts.database}`;
  const log = (line: string): void => opts.journal.say(`  ${line}`);

  async function assertOurs(): Promise<void> {
    const kafka = await kafkaStatus({ brokers });
    if (kafka.state !== 'running')
      throw new Error(
        `a Kafka broker answers on ${brokers.join(',')} that this project's infra did not start (${kafka.state}); the suite restarts its broker, so choose a free CHAOS_KAFKA_PORT`,
      );
    if (!startedClusters().some((c) => c.port === opts.pgPort))
      throw new Error(
        `a Postgres server answers on port ${opts.pgPort} that this project's infra did not start; the suite restarts its cluster, so choose a free CHAOS_PG_PORT`,
      );
  }

  return {
    brokers,
    databaseUrl,

    async up() {
      await startKafka({ brokers, log });
      await ensurePostgres(databaseUrl, { log });
      await assertOurs();
      // A fresh database every run: the positions, the ledger and the keys of an earlier run would
      // mix with this one's (the topics are new each run too).
      await withMaintenance(databaseUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(opts.database)} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(opts.database)}`);
      });
      await migrate(databaseUrl, (line) => log(`migrate: ${line}`));
    },

    async restartKafka(how) {
      if (how.sigkill) {
        const { pid } = await kafkaStatus({ brokers });
        if (pid === undefined) throw new Error('kafka: our broker is not running');
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && isProcessAlive(pid); i++) await sleep(100);
      } else {
        await stopKafka({ brokers, log });
      }
      await sleep(how.downMs);
      await startKafka({ brokers, log });
    },

    async restartPostgres(how) {
      await stopPostgres({ databaseUrl, log });
      await sleep(how.downMs);
      await ensurePostgres(databaseUrl, { log });
    },

    async killConnections() {
      return withMaintenance(databaseUrl, async (c) => {
        const r = await c.query<{ application_name: string; n: string }>(
          `SELECT application_name, count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n
             FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name = ANY($2::text[])
            GROUP BY application_name ORDER BY application_name`,
          [opts.database, [...SERVICE_APPLICATION_NAMES]],
        );
        return new Map(r.rows.map((row) => [row.application_name, Number(row.n)]));
      });
    },

    async down() {
      await stopKafka({ brokers, log });
      await stopPostgres({ databaseUrl, log });
    },
  };
}
