/**
 * Creates the contract's topics (shared/src/kafka.ts TOPICS). Idempotent: run it on every
 * deploy. `tsx infra/topics.ts` (npm run topics).
 *
 * Partition counts:
 * - wagers: `WAGER_PARTITIONS` (default 12). The ceiling on aggregator replicas, and the unit of
 *   ordering per player. Only ever grown: Kafka cannot shrink a topic, and growing it moves
 *   some players to another partition (their order across the change is not guaranteed).
 * - pool-updates, awards, dead letters: 3. Low volume; 3 keeps per-pool order with some spread.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { int, kafkaSecurity, type KafkaSecurity } from '../shared/src/config.js';
import { toError } from '../shared/src/errors.js';
import { TOPICS, createKafka } from '../shared/src/kafka.js';
import { kafkaBrokers } from './kafka.js';
import type { Log } from './processes.js';
import { runIfMain } from '../shared/src/run-main.js';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Topic-level configs such as `cleanup.policy`. */
  readonly configs?: Readonly<Record<string, string>>;
}

export function contractTopics(wagerPartitions: number): TopicSpec[] {
  return [
    { topic: TOPICS.wagers, partitions: wagerPartitions },
    // Compacted: a reader starting from the beginning gets the latest update of every pool.
    { topic: TOPICS.poolUpdates, partitions: 3, configs: { 'cleanup.policy': 'compact' } },
    { topic: TOPICS.awards, partitions: 3 },
    { topic: TOPICS.wagersDlq, partitions: 3 },
  ];
}

function toKafkaTopic(spec: TopicSpec): ITopicConfig {
  return {
    topic: spec.topic,
    numPartitions: spec.partitions,
    // One broker locally; a real cluster sets default.replication.factor and this follows it.
    replicationFactor: -1,
    configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
  };
}

/** 30 s: leaders appear within a second normally, and within ~5 s on a loaded 2-core machine. */
const LEADERS_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Creates a topic if it does not exist and waits until every partition has a leader. Resolves
 * with `true` when this call created it, `false` when it already existed. Tests use it for
 * their throwaway topics.
 *
 * kafkajs' own `waitForLeaders` gives up at once when a freshly started broker answers
 * "does not host this topic-partition" while its metadata catches up, so creation is retried
 * (it is idempotent) and leaders are awaited here.
 */
export async function createTopic(admin: Admin, spec: TopicSpec): Promise<boolean> {
  let created = false;
  for (let attempt = 1; ; attempt++) {
    try {
      created =
        (await admin.createTopics({
          topics: [toKafkaTopic(spec)],
          waitForLeaders: false,
          timeout: 30_000,
        })) || created;
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
      await sleep(500 * attempt);
    }
  }
  await waitForLeaders(admin, spec.topic);
  return created;
}

async function waitForLeaders(admin: Admin, topic: string): Promise<void> {
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  let last: string;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = meta.topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      last = `${partitions.filter((p) => p.leader < 0).length} of ${partitions.length} partitions without a leader`;
    } catch (e) {
      last = toError(e).message;
    }
    if (Date.now() > deadline)
      throw new Error(`topic ${topic}: no leaders after ${LEADERS_TIMEOUT_MS / 1000} s (${last})`);
    await sleep(200);
  }
}

async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0]?.partitions.length ?? 0;
}

// kafkajs declares these as TypeScript enums but its ESM entry does not export them as values.
const TOPIC_RESOURCE = 2; // ConfigResourceTypes.TOPIC
const TOPIC_CONFIG_SOURCE = 1; // ConfigSource.TOPIC_CONFIG: set on the topic itself

interface DescribedConfigs {
  resources: { configEntries: { configName: string; configValue: string; configSource: number }[] }[];
}

/** Sets the topic-level configs of an existing topic that differ from `spec.configs`. */
async function alignConfigs(admin: Admin, spec: TopicSpec, log: Log): Promise<void> {
  const wanted = Object.entries(spec.configs ?? {});
  if (wanted.length === 0) return;
  const described = (await admin.describeConfigs({
    resources: [{ type: TOPIC_RESOURCE, name: spec.topic }],
    includeSynonyms: false,
  })) as DescribedConfigs;
  const entries = described.resources[0]?.configEntries ?? [];
  const current = new Map(entries.map((e) => [e.configName, e.configValue]));
  const differing = wanted.filter(([name, value]) => current.get(name) !== value);
  if (differing.length === 0) return;
  // AlterConfigs (kafkajs has no incremental variant) replaces the topic's whole set of
  // topic-level overrides: send the ones already set along with ours, or they are lost.
  const merged = new Map(
    entries.filter((e) => e.configSource === TOPIC_CONFIG_SOURCE).map((e) => [e.configName, e.configValue]),
  );
  for (const [name, value] of wanted) merged.set(name, value);
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: TOPIC_RESOURCE,
        name: spec.topic,
        configEntries: [...merged].map(([name, value]) => ({ name, value })),
      },
    ],
  });
  log(`topics: ${spec.topic}: set ${differing.map(([n, v]) => `${n}=${v}`).join(', ')}`);
}

export interface EnsureTopicsOptions {
  readonly brokers?: readonly string[];
  /** TLS and SASL towards the brokers; from KAFKA_SSL / KAFKA_SASL_* when absent. */
  readonly security?: KafkaSecurity;
  readonly wagerPartitions?: number;
  readonly log?: Log;
}

/** The wager topic's partitions (`WAGER_PARTITIONS`, default 12): also the most aggregator replicas. */
export function wagerPartitionsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return int(env, 'WAGER_PARTITIONS', 12, 1, 10_000);
}

/**
 * Creates the four contract topics. Existing topics are kept; a wagers topic with fewer
 * partitions than configured is grown; the compaction policy of pool-updates is enforced.
 */
export async function ensureTopics(opts: EnsureTopicsOptions = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const brokers = opts.brokers ?? kafkaBrokers();
  const wagerPartitions = opts.wagerPartitions ?? wagerPartitionsFromEnv();
  const security = opts.security ?? kafkaSecurity(process.env);
  const admin = createKafka({ brokers, security, clientId: 'infra-topics' }).admin();
  await admin.connect();
  try {
    for (const spec of contractTopics(wagerPartitions)) {
      if (await createTopic(admin, spec)) {
        log(`topics: created ${spec.topic} (${spec.partitions} partitions)`);
        continue;
      }
      const have = await partitionCount(admin, spec.topic);
      if (spec.topic === TOPICS.wagers && have < spec.partitions) {
        await admin.createPartitions({
          topicPartitions: [{ topic: spec.topic, count: spec.partitions }],
          validateOnly: false,
          timeout: 30_000,
        });
        log(`topics: ${spec.topic}: grew from ${have} to ${spec.partitions} partitions`);
      } else {
        log(`topics: ${spec.topic} exists (${have} partitions)`);
      }
      await alignConfigs(admin, spec, log);
    }
  } finally {
    await admin.disconnect();
  }
}

runIfMain(import.meta.url, () => ensureTopics(), 'topics');
