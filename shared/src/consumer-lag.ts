/**
 * Consumer lag per partition, as this replica sees it, from what kafkajs already knows: each
 * fetched batch carries its partition's high watermark (the offset the next message written
 * will get), so the lag is the high watermark minus the next offset to apply. No request to the
 * broker is added: the figure is as fresh as the last fetch of that partition.
 *
 * kafkajs tells every batch twice (instrumentation events): before the consumer handles it, when
 * nothing of it is applied yet (lag = high watermark − first offset), and after its handler
 * returned, when all of it is (high watermark − last offset − 1). A handler that throws sends no
 * second event, so a window that failed keeps its messages counted.
 *
 * Replica: `hostname-pid`, the suffix of the services' Kafka client ids (`aggregator-HOST-PID`),
 * so a series matches the CLIENT-ID column of `kafka-consumer-groups --describe`; in Kubernetes
 * the hostname is the pod's name. It is fixed for the life of the process, unlike kafkajs'
 * member id, which changes when the consumer rejoins after an error.
 */
import { hostname } from 'node:os';
import type { Meter } from '@opentelemetry/api';
import type { Consumer, ConsumerStartBatchProcessEvent } from 'kafkajs';

type BatchEvent = ConsumerStartBatchProcessEvent['payload'];

export const replicaId = (): string => `${hostname()}-${process.pid}`;

/**
 * Messages not applied yet: `highWatermark − nextOffset`, never negative (a high watermark read
 * before a later one can trail the offsets already applied).
 */
export function lagOf(highWatermark: string, nextOffset: bigint): number {
  const lag = BigInt(highWatermark) - nextOffset;
  return lag > 0n ? Number(lag) : 0;
}

/**
 * What each partition's series reads. A partition this replica no longer owns reads 0 rather
 * than disappearing: the Prometheus exporter keeps repeating a series' last value once it stops
 * being observed, and a stale non-zero lag would be counted twice with its new owner's.
 */
export class LagBook {
  readonly #lags = new Map<string, Map<number, number>>();
  #owned = new Set<string>();

  /** The assignment after a (re)join: `topic → partitions`. */
  assign(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.#owned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}/${p}`)),
    );
    for (const [topic, partitions] of this.#lags)
      for (const p of partitions.keys()) if (!this.#owned.has(`${topic}/${p}`)) partitions.set(p, 0);
  }

  /** Nothing owned: the group is rebalancing or the consumer stopped. */
  release(): void {
    this.assign({});
  }

  set(topic: string, partition: number, lag: number): void {
    let partitions = this.#lags.get(topic);
    if (partitions === undefined) this.#lags.set(topic, (partitions = new Map<number, number>()));
    partitions.set(partition, this.#owned.has(`${topic}/${partition}`) ? lag : 0);
  }

  /** Every partition ever seen, with its lag (0 when not owned). */
  *entries(): Generator<{ topic: string; partition: number; lag: number }> {
    for (const [topic, partitions] of this.#lags)
      for (const [partition, lag] of partitions) yield { topic, partition, lag };
  }
}

/** Stops listening; `applied` tells where a partition is applied up to (see appliedOnCommit). */
export type LagTracker = (() => void) & {
  applied(topic: string, partition: number, nextOffset: bigint): void;
};

/**
 * Exports `name` (an observable gauge, unit `{message}`, attributes `topic`, `partition`,
 * `replica`) for `consumer`, fed by its instrumentation events. Returns a function that stops
 * listening. With `appliedOnCommit`, a handler's return does not mean its batch is applied (the
 * aggregator lets a batch go before its window commits): the caller says where each partition
 * is applied up to with `applied`, and the batches only bring the high watermarks.
 */
export function trackConsumerLag(
  consumer: Consumer,
  meter: Meter,
  opts: {
    readonly name: string;
    readonly description: string;
    readonly replica?: string;
    readonly appliedOnCommit?: boolean;
  },
): LagTracker {
  const replica = opts.replica ?? replicaId();
  const book = new LagBook();
  /** appliedOnCommit: per `topic/partition`, the last high watermark and the next offset to apply. */
  const highs = new Map<string, string>();
  const nexts = new Map<string, bigint>();
  const gauge = meter.createObservableGauge(opts.name, { unit: '{message}', description: opts.description });
  const observe = (r: {
    observe(value: number, attributes: Record<string, string | number>): void;
  }): void => {
    for (const { topic, partition, lag } of book.entries()) r.observe(lag, { topic, partition, replica });
  };
  gauge.addCallback(observe);
  // Called inside kafkajs' fetch loop: an exception here must not reach it.
  const record = (batch: BatchEvent, applied: boolean): void => {
    try {
      // A batch of only filtered records (compacted, aborted) has no first offset.
      const first = batch.firstOffset as string | null;
      const key = `${batch.topic}/${batch.partition}`;
      if (opts.appliedOnCommit === true) {
        if (applied) return;
        highs.set(key, batch.highWatermark);
        if (!nexts.has(key)) nexts.set(key, first === null ? BigInt(batch.lastOffset) + 1n : BigInt(first));
        book.set(batch.topic, batch.partition, lagOf(batch.highWatermark, nexts.get(key) ?? 0n));
        return;
      }
      const next = applied || first === null ? BigInt(batch.lastOffset) + 1n : BigInt(first);
      book.set(batch.topic, batch.partition, lagOf(batch.highWatermark, next));
    } catch {
      // An offset kafkajs did not fill in: the series keeps its previous value.
    }
  };
  // A new assignment starts from whatever position the first batch shows.
  const forget = (): void => nexts.clear();
  const { GROUP_JOIN, START_BATCH_PROCESS, END_BATCH_PROCESS, REBALANCING, STOP, CRASH } = consumer.events;
  const removers = [
    consumer.on(GROUP_JOIN, ({ payload }) => {
      forget();
      book.assign(payload.memberAssignment);
    }),
    consumer.on(REBALANCING, () => book.release()),
    consumer.on(STOP, () => book.release()),
    consumer.on(CRASH, () => book.release()),
    consumer.on(START_BATCH_PROCESS, ({ payload }) => record(payload, false)),
    consumer.on(END_BATCH_PROCESS, ({ payload }) => record(payload, true)),
  ];
  const stop = (): void => {
    for (const remove of removers) remove();
    gauge.removeCallback(observe);
  };
  return Object.assign(stop, {
    applied(topic: string, partition: number, nextOffset: bigint): void {
      const key = `${topic}/${partition}`;
      nexts.set(key, nextOffset);
      const high = highs.get(key);
      if (high !== undefined) book.set(topic, partition, lagOf(high, nextOffset));
    },
  });
}
