/**
 * A real single-node Apache Kafka broker without Docker: the broker's life on this machine.
 * `java` runs one KRaft process that is both broker and controller on loopback (its jars come
 * from `infra/kafka-jars.ts`); this module writes its server.properties (with SCRAM over
 * SASL_PLAINTEXT for a second, secured broker), formats its data directory, starts it, waits
 * until it answers, reports its status and stops it. Everything it writes lives under `.stack/`;
 * the pid files, log tails and graceful stop are `infra/processes.ts`'.
 *
 *   tsx infra/kafka.ts fetch|start|stop|status
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_KAFKA_BROKERS, kafkaSecurity, list, type KafkaSecurity } from '../shared/src/config.js';
import { createKafka } from '../shared/src/kafka.js';
import { runIfMain } from '../shared/src/run-main.js';
import { fetchKafka, isLog4j2 } from './kafka-jars.js';
import {
  LOGS_DIR,
  PIDS_DIR,
  STACK_DIR,
  defaultLog,
  isLoopback,
  isOurProcess,
  isProcessAlive,
  readPidFile,
  removeFile,
  sleep,
  tail,
  tailFile,
  tcpOpen,
  terminate,
  type Log,
} from './processes.js';

/**
 * A new cluster id for every data directory formatted (a base64url UUID, as `kafka-storage
 * random-uuid` prints). Never a fixed one: the aggregators keep the cluster id with the positions
 * they store in Postgres, and two brokers formatted with one id would look like one cluster, so a
 * new broker's offsets (from 0) could be taken for positions already applied. Never one that starts
 * with '-' either (1 in 64): the storage tool would read it as an option and refuse to format, which
 * is why Kafka's own Uuid.randomUuid() draws again in that case.
 */
function newClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
/** 90 s: a cold JVM on 2 cores takes 10-20 s; the margin covers a busy CI machine. */
const START_TIMEOUT_MS = 90_000;
/** 30 s: a clean shutdown flushes and closes the log segments, usually in under 5 s. */
const STOP_TIMEOUT_MS = 30_000;
/** Broker heap: 768 MiB is plenty for tests and the demo load; the JVM default would take 1/4 of RAM. */
const HEAP_FLAGS = ['-Xms256m', '-Xmx768m'];

export function kafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] {
  return list(env, 'KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);
}

// ---------------------------------------------------------------------------------------------
// start / stop / status

function hostPort(broker: string): { host: string; port: number } {
  const i = broker.lastIndexOf(':');
  const port = Number(broker.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`KAFKA_BROKERS entry ${JSON.stringify(broker)} is invalid: expected host:port`);
  return { host: broker.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/**
 * True when a Kafka broker answers a metadata request (list topics) on `brokers`, connecting with
 * `security` (TLS, SASL): a secured broker refuses a plaintext or unauthenticated probe.
 */
async function kafkaAnswers(
  brokers: readonly string[],
  timeoutMs = 5000,
  security: KafkaSecurity = {},
): Promise<boolean> {
  const reachable = await Promise.all(brokers.map((b) => tcpOpen(hostPort(b).host, hostPort(b).port)));
  if (!reachable.some(Boolean)) return false;
  const admin = createKafka({
    brokers,
    security,
    clientId: `infra-probe-${randomUUID().slice(0, 8)}`,
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    });
    await Promise.race([
      (async () => {
        await admin.connect();
        await admin.listTopics();
      })(),
      timeout,
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Where a local broker for `brokers` keeps its files: `.stack/pids/kafka.pid`,
 * `.stack/logs/kafka.log`, `.stack/kafka/` for the default port 9092, and names suffixed with
 * the port for any other, so a second broker (for trying a version) never shares a pid file
 * or a data directory with the first.
 */
function localFiles(
  brokers: readonly string[],
  dir?: string,
): { pidFile: string; logFile: string; dir: string } {
  if (dir !== undefined) return { pidFile: join(dir, 'kafka.pid'), logFile: join(dir, 'kafka.log'), dir };
  const first = brokers[0];
  const port = first === undefined ? 9092 : hostPort(first).port;
  const name = port === 9092 ? 'kafka' : `kafka-${port}`;
  return {
    pidFile: join(PIDS_DIR, `${name}.pid`),
    logFile: join(LOGS_DIR, `${name}.log`),
    dir: join(STACK_DIR, name),
  };
}

/**
 * A broker that authenticates its clients: SCRAM users created when its data directory is
 * formatted (`kafka-storage format --add-scram`), a SASL_PLAINTEXT listener on the bootstrap
 * port, and with `tlsKeystoreFile` also a SASL_SSL listener on port + 2. For tests of the client's
 * security settings; the stack's own broker stays plaintext on loopback.
 */
export interface LocalBrokerSasl {
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  /** The first is the broker's own identity (inter-broker and the readiness probe). */
  readonly users: readonly { readonly name: string; readonly password: string }[];
  /** A PEM file with the broker's private key (PKCS#8, unencrypted) and its certificate chain. */
  readonly tlsKeystoreFile?: string;
}

/** Characters that cannot break the `--add-scram` and JAAS syntax they are written into. */
const SCRAM_TOKEN = /^[A-Za-z0-9._-]{1,64}$/;

function saslProperties(sasl: LocalBrokerSasl, listenerNames: readonly string[]): string[] {
  const self = sasl.users[0];
  if (self === undefined) throw new Error('kafka: a SASL broker needs at least one SCRAM user');
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${self.name}" password="${self.password}";`;
  return [
    `sasl.enabled.mechanisms=${sasl.mechanism}`,
    `sasl.mechanism.inter.broker.protocol=${sasl.mechanism}`,
    ...listenerNames.map(
      (l) => `listener.name.${l.toLowerCase()}.${sasl.mechanism.toLowerCase()}.sasl.jaas.config=${jaas}`,
    ),
    ...(sasl.tlsKeystoreFile === undefined
      ? []
      : ['ssl.keystore.type=PEM', `ssl.keystore.location=${sasl.tlsKeystoreFile}`]),
  ];
}

/** What the readiness probe of a SASL broker connects with: its own identity, over SASL_PLAINTEXT. */
function probeSecurity(sasl: LocalBrokerSasl): KafkaSecurity {
  const self = sasl.users[0];
  if (self === undefined) throw new Error('kafka: a SASL broker needs at least one SCRAM user');
  const mechanism = sasl.mechanism === 'SCRAM-SHA-256' ? 'scram-sha-256' : 'scram-sha-512';
  return { sasl: { mechanism, username: self.name, password: self.password } };
}

function serverProperties(opts: {
  host: string;
  port: number;
  controllerPort: number;
  logDirs: string;
  version: string;
  sasl?: LocalBrokerSasl;
}): string {
  const listen = `${opts.host}:${opts.port}`;
  const client = opts.sasl === undefined ? 'PLAINTEXT' : 'SASL_PLAINTEXT';
  const tls = opts.sasl?.tlsKeystoreFile === undefined ? [] : [`SASL_SSL://${opts.host}:${opts.port + 2}`];
  const lines = [
    '# Generated by infra/kafka.ts: one KRaft process, broker and controller, on loopback.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${opts.host}:${opts.controllerPort}`,
    `listeners=${[`${client}://${listen}`, ...tls, `CONTROLLER://${opts.host}:${opts.controllerPort}`].join(',')}`,
    `advertised.listeners=${[`${client}://${listen}`, ...tls].join(',')}`,
    'controller.listener.names=CONTROLLER',
    `inter.broker.listener.name=${client}`,
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,${client}:${client}${tls.length > 0 ? ',SASL_SSL:SASL_SSL' : ''}`,
    ...(opts.sasl === undefined
      ? []
      : saslProperties(opts.sasl, [client, ...(tls.length > 0 ? ['SASL_SSL'] : [])])),
    `log.dirs=${opts.logDirs}`,
    '# Topics are created on purpose (infra/topics.ts); a typo must fail, not create a topic.',
    'auto.create.topics.enable=false',
    'num.partitions=12',
    '# One broker: every internal topic must have replication factor 1, or __consumer_offsets',
    '# is never created and consumers loop on "group coordinator not available".',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=3',
    ...(isLog4j2(opts.version)
      ? ['share.coordinator.state.topic.replication.factor=1', 'share.coordinator.state.topic.min.isr=1']
      : []),
    '# No 3 s wait for more members before the first rebalance: tests and restarts join at once.',
    'group.initial.rebalance.delay.ms=0',
    '# Tests use 6 s sessions so that a departed member is noticed quickly.',
    'group.min.session.timeout.ms=1000',
    '# Two cores: small thread pools. More request handlers than cores only queue on the CPU; the',
    '# writes go to the page cache (no fsync per message: log.flush.* are left at their defaults,',
    '# a local broker is not the durability story), so a handler seldom blocks on the disk.',
    'num.network.threads=2',
    'num.io.threads=2',
    'background.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'num.replica.fetchers=1',
    'log.cleaner.threads=1',
    '',
  ];
  return lines.join('\n');
}

export interface KafkaStatus {
  readonly brokers: readonly string[];
  /** A broker answers on the bootstrap address (ours or someone else's). */
  readonly answering: boolean;
  /** The pid of the broker we started, when its pid file names a live Kafka process. */
  readonly pid: number | undefined;
  readonly state: 'running' | 'stopped' | 'dead pid file' | 'external';
}

export async function kafkaStatus(opts: { brokers?: readonly string[] } = {}): Promise<KafkaStatus> {
  const brokers = opts.brokers ?? kafkaBrokers();
  const pid = readPidFile(localFiles(brokers).pidFile);
  const alive = pid !== undefined && isOurProcess(pid, 'kafka.Kafka');
  const answering = await kafkaAnswers(brokers, 5000, kafkaSecurity(process.env));
  const state = alive ? 'running' : answering ? 'external' : pid !== undefined ? 'dead pid file' : 'stopped';
  return { brokers, answering, pid: alive ? pid : undefined, state };
}

/**
 * Starts a broker unless one already answers on the bootstrap address. Resolves when a
 * kafkajs admin can connect and list topics. `started` says whether this call spawned it.
 * `dir` keeps the pid file, log and data there instead of under `.stack/` (a test's own broker);
 * `sasl` makes it authenticate clients (see LocalBrokerSasl).
 */
export async function startKafka(
  opts: {
    brokers?: readonly string[];
    log?: Log;
    version?: string;
    dir?: string;
    sasl?: LocalBrokerSasl;
  } = {},
): Promise<{ started: boolean; pid: number | undefined }> {
  const log = opts.log ?? defaultLog;
  const brokers = opts.brokers ?? kafkaBrokers();
  const files = localFiles(brokers, opts.dir);
  // The probe speaks as the clients will: the broker we would start, or the one configured for them.
  const security = opts.sasl === undefined ? kafkaSecurity(process.env) : probeSecurity(opts.sasl);
  for (const u of opts.sasl?.users ?? []) {
    if (!SCRAM_TOKEN.test(u.name) || !SCRAM_TOKEN.test(u.password))
      throw new Error(
        `kafka: SCRAM user ${JSON.stringify(u.name)}: names and passwords must be 1-64 characters of [A-Za-z0-9._-]`,
      );
  }
  const existingPid = readPidFile(files.pidFile);
  const ours = existingPid !== undefined && isOurProcess(existingPid, 'kafka.Kafka');
  if (await kafkaAnswers(brokers, 5000, security)) {
    log(
      ours
        ? `kafka: already running (pid ${existingPid}) on ${brokers.join(',')}`
        : `kafka: reusing the broker that already answers on ${brokers.join(',')}`,
    );
    return { started: false, pid: ours ? existingPid : undefined };
  }
  if (ours) {
    // Started earlier and still booting (or wedged): wait for it rather than start a second one.
    log(`kafka: pid ${existingPid} is alive but not answering yet; waiting`);
    await waitForKafka(brokers, existingPid, files, log, security);
    return { started: false, pid: existingPid };
  }

  const first = brokers[0];
  if (first === undefined) throw new Error('KAFKA_BROKERS is empty');
  const { host, port } = hostPort(first);
  if (!isLoopback(host))
    throw new Error(
      `kafka: nothing answers on ${brokers.join(',')} and ${host} is not a loopback address, so no local broker can stand in for it`,
    );
  if (await tcpOpen(host, port))
    throw new Error(
      `kafka: ${host}:${port} accepts connections but does not answer as a Kafka broker; free the port or point KAFKA_BROKERS elsewhere`,
    );
  if (opts.sasl === undefined && (security.ssl !== undefined || security.sasl !== undefined))
    throw new Error(
      `kafka: nothing answers on ${brokers.join(',')} with KAFKA_SSL/KAFKA_SASL_*, and the local broker would be plaintext; unset them or point KAFKA_BROKERS at a secured broker`,
    );

  const install = await fetchKafka({ ...(opts.version === undefined ? {} : { version: opts.version }), log });
  const bindHost = host === 'localhost' ? '127.0.0.1' : host;
  const kafkaDir = files.dir;
  // One data directory per version: an older broker cannot read a newer one's metadata log.
  const dataDir = join(kafkaDir, `data-${install.version}`);
  const propsFile = join(kafkaDir, 'server.properties');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(dirname(files.pidFile), { recursive: true });
  mkdirSync(dirname(files.logFile), { recursive: true });
  writeFileSync(
    propsFile,
    serverProperties({
      host: bindHost,
      port,
      controllerPort: port + 1,
      logDirs: dataDir,
      version: install.version,
      ...(opts.sasl === undefined ? {} : { sasl: opts.sasl }),
    }),
  );

  const classpath = `${install.libsDir}/*`;
  // A formatted directory has meta.properties; skipping the tool saves a JVM start (3-5 s).
  if (!existsSync(join(dataDir, 'meta.properties'))) {
    const format = spawnSync(
      'java',
      [
        '-Xmx256m',
        // A short-lived tool: the quick JIT tier and a serial GC start fastest.
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        install.logFlag,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        newClusterId(),
        '-c',
        propsFile,
        '--ignore-formatted',
        ...(opts.sasl?.users ?? []).flatMap((u) => [
          '--add-scram',
          `${opts.sasl?.mechanism}=[name=${u.name},password=${u.password}]`,
        ]),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (format.error)
      throw new Error(`kafka: could not run java (is a JDK 17+ installed?): ${format.error.message}`);
    if (format.status !== 0)
      throw new Error(
        `kafka: formatting ${dataDir} failed:\n${tail(`${format.stdout}\n${format.stderr}`, 30)}`,
      );
  }

  const out = openSync(files.logFile, 'a');
  const child = spawn(
    'java',
    [
      ...HEAP_FLAGS,
      '-server',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${dirname(files.logFile)}`,
      install.logFlag,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    { detached: true, stdio: ['ignore', out, out], cwd: kafkaDir },
  );
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('kafka: java did not start');
  child.unref();
  writeFileSync(files.pidFile, `${pid}\n`);
  log(`kafka ${install.version}: started pid ${pid} on ${bindHost}:${port} (log: ${files.logFile})`);
  await waitForKafka(brokers, pid, files, log, security);
  return { started: true, pid };
}

async function waitForKafka(
  brokers: readonly string[],
  pid: number,
  files: { pidFile: string; logFile: string },
  log: Log,
  security: KafkaSecurity,
): Promise<void> {
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    if (await kafkaAnswers(brokers, 5000, security)) {
      log(`kafka: ready on ${brokers.join(',')} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    if (!isProcessAlive(pid)) {
      removeFile(files.pidFile);
      throw new Error(
        `kafka: pid ${pid} exited during start-up. Last lines of ${files.logFile}:\n${tailFile(files.logFile, 30)}`,
      );
    }
    if (Date.now() - started > START_TIMEOUT_MS) {
      throw new Error(
        `kafka: not answering on ${brokers.join(',')} after ${START_TIMEOUT_MS / 1000} s (pid ${pid} left running). Last lines of ${files.logFile}:\n${tailFile(files.logFile, 30)}`,
      );
    }
    if (Date.now() - lastProgress >= 5000) {
      lastProgress = Date.now();
      log(`kafka: waiting for the broker (${Math.round((Date.now() - started) / 1000)} s)`);
    }
    await sleep(500);
  }
}

/** Stops the broker we started (SIGTERM, then SIGKILL after 30 s). A broker we did not start is left alone. */
export async function stopKafka(
  opts: { brokers?: readonly string[]; log?: Log; dir?: string } = {},
): Promise<{ stopped: boolean }> {
  const log = opts.log ?? defaultLog;
  const { pidFile } = localFiles(opts.brokers ?? kafkaBrokers(), opts.dir);
  const pid = readPidFile(pidFile);
  if (pid === undefined || !isOurProcess(pid, 'kafka.Kafka')) {
    removeFile(pidFile);
    log('kafka: not running (nothing we started)');
    return { stopped: false };
  }
  log(`kafka: stopping pid ${pid}`);
  const how = await terminate(pid, STOP_TIMEOUT_MS);
  removeFile(pidFile);
  log(`kafka: stopped (${how})`);
  return { stopped: true };
}

// ---------------------------------------------------------------------------------------------
// command line

async function main(): Promise<number> {
  const cmd = process.argv[2];
  switch (cmd) {
    case 'fetch':
      await fetchKafka();
      return 0;
    case 'start':
      await startKafka();
      return 0;
    case 'stop':
      await stopKafka();
      return 0;
    case 'status': {
      const s = await kafkaStatus();
      console.log(
        `kafka\t${s.pid ?? '-'}\t${s.state}\t${s.answering ? 'answering' : 'not answering'} on ${s.brokers.join(',')}`,
      );
      // Exit 0 only when a broker answers, so shell scripts can test it.
      return s.answering ? 0 : 3;
    }
    default:
      console.error('usage: tsx infra/kafka.ts fetch|start|stop|status');
      return 2;
  }
}

runIfMain(import.meta.url, main);
