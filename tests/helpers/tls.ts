/**
 * Throwaway TLS material for tests of the clients' transport security, made with `openssl`: a CA
 * and a server certificate it signs for the given subject alternative names.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  /** The CA certificate (PEM): what a client trusts. */
  readonly caFile: string;
  /** The server's certificate (PEM) and its unencrypted PKCS#8 private key. */
  readonly certFile: string;
  readonly keyFile: string;
}

/** Writes `<name>-ca.pem`, `<name>.pem` and `<name>.key` into `dir`. `san` such as `IP:127.0.0.1,DNS:localhost`. */
export function makeCertificates(dir: string, name: string, san: string): TestCertificates {
  const openssl = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${r.error?.message ?? r.stderr}`);
  };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  writeFileSync(join(dir, `${name}-san.cnf`), `subjectAltName=${san}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}-san.cnf`,
  ]);
  return {
    caFile: join(dir, `${name}-ca.pem`),
    certFile: join(dir, `${name}.pem`),
    keyFile: join(dir, `${name}.key`),
  };
}

/** Key, certificate and CA in one PEM file: what a Kafka broker takes as `ssl.keystore.type=PEM`. */
export function pemKeystore(dir: string, certs: TestCertificates): string {
  const file = join(dir, 'keystore.pem');
  writeFileSync(
    file,
    [certs.keyFile, certs.certFile, certs.caFile].map((f) => readFileSync(f, 'utf8')).join(''),
  );
  return file;
}
