/**
 * Postgres TLS as the services configure it: DATABASE_URL with libpq's `sslmode` and
 * `sslrootcert`, checked by `databaseUrl(env)` and opened by `createPool`. Against a throwaway
 * cluster of this file's own (the shared server has no TLS and must not be restarted): its
 * certificate, for 127.0.0.1 only, comes from a CA made here with openssl, and its pg_hba accepts
 * TLS connections only. The cluster is stopped and removed afterwards.
 */
import assert from 'node:assert/strict';
import { freePort } from '../../infra/processes.js';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { databaseUrl } from '../../shared/src/config.js';
import { createPool } from '../../shared/src/db.js';
import { makeCertificates } from '../helpers/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'jackpot-pg-tls-'));
const dataDir = join(dir, 'data');
const binDir = (() => {
  const root = '/usr/lib/postgresql';
  const newest = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (newest === undefined) throw new Error(`no PostgreSQL binaries under ${root}`);
  return join(root, newest, 'bin');
})();

/** initdb and postgres refuse to run as root: as root, run them as the postgres OS user, who owns `dir`. */
const asRoot = process.getuid?.() === 0;
const owner = (() => {
  if (!asRoot) return undefined;
  const m = /^postgres:[^:]*:(\d+):(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'));
  if (m?.[1] === undefined || m[2] === undefined) throw new Error('no postgres OS user');
  return { uid: Number(m[1]), gid: Number(m[2]) };
})();
function pgTool(tool: string, args: string[]): void {
  const bin = join(binDir, tool);
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { cwd: dir, encoding: 'utf8' })
    : spawnSync(bin, args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
}
const giveToPostgres = (path: string): void => {
  if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
};

const certs = makeCertificates(dir, 'pg', 'IP:127.0.0.1');
const otherCa = makeCertificates(dir, 'other', 'IP:127.0.0.1');
// The server reads its key only when it belongs to it and nobody else can read it.
chmodSync(certs.keyFile, 0o600);
for (const f of [dir, certs.keyFile, certs.certFile]) giveToPostgres(f);
const port = await freePort();

after(() => {
  if (existsSync(join(dataDir, 'postmaster.pid')))
    pgTool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
  rmSync(dir, { recursive: true, force: true });
});

pgTool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8']);
// TLS or nothing over TCP. 127.0.0.2 is loopback too, but not in the certificate: the host-name check.
writeFileSync(
  join(dataDir, 'pg_hba.conf'),
  'local all all trust\nhostssl all all 127.0.0.0/8 trust\nhost all all 127.0.0.0/8 reject\n',
);
giveToPostgres(join(dataDir, 'pg_hba.conf'));
pgTool('pg_ctl', [
  '-D',
  dataDir,
  '-l',
  join(dir, 'postgres.log'),
  '-o',
  `-p ${port} -c listen_addresses=127.0.0.1,127.0.0.2 -c unix_socket_directories=${dir} -c fsync=off -c ssl=on -c ssl_cert_file=${certs.certFile} -c ssl_key_file=${certs.keyFile}`,
  '-w',
  '-t',
  '60',
  'start',
]);

/** Connects the way a service does (DATABASE_URL validated, then createPool) and reports TLS or the error code. */
async function connect(url: string): Promise<string> {
  const pool = createPool(databaseUrl({ DATABASE_URL: url }), { max: 1, applicationName: 'pg-tls-test' });
  try {
    const r = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return r.rows[0]?.ssl === true ? 'tls' : 'plaintext';
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  } finally {
    await pool.end();
  }
}

const base = `postgres://postgres@127.0.0.1:${port}/postgres`;

void test('sslmode=verify-full with sslrootcert: encrypted, and the server proved who it is', async () => {
  assert.equal(await connect(`${base}?sslmode=verify-full&sslrootcert=${certs.caFile}`), 'tls');
});

void test('without TLS the server refuses; a certificate from another CA or for another host is refused by the client', async () => {
  // pg_hba: no plaintext over TCP (28000 invalid_authorization_specification).
  assert.equal(await connect(base), '28000');
  assert.equal(await connect(`${base}?sslmode=disable`), '28000');
  // Node's default CAs do not know ours (the server sends its certificate without the CA).
  const untrusted = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'];
  const refusedAsUntrusted = async (url: string): Promise<void> => {
    const got = await connect(url);
    assert.ok(untrusted.includes(got), `${url}: ${got}`);
  };
  await refusedAsUntrusted(`${base}?sslmode=verify-full`);
  // node-postgres 8 verifies for `require` too (README): no silent unverified TLS.
  await refusedAsUntrusted(`${base}?sslmode=require`);
  await refusedAsUntrusted(`${base}?sslmode=verify-full&sslrootcert=${otherCa.caFile}`);
  assert.equal(
    await connect(
      `postgres://postgres@127.0.0.2:${port}/postgres?sslmode=verify-full&sslrootcert=${certs.caFile}`,
    ),
    'ERR_TLS_CERT_ALTNAME_INVALID',
  );
});
