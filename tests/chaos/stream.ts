/**
 * The wager stream the faults are injected into, through both paths: the producer library straight
 * to Kafka (the load generator's Kafka sender, with re-sent duplicates and bad input) and the HTTP
 * gateway (the load generator's HTTP sender). Unlike the load generator's aggregate ledger, this
 * keeps every wager by eventId (first copy, copies sent, whether any copy was acknowledged), so the
 * ledger can be checked row by row afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { toError } from '../../shared/src/errors.js';
import type { WagerMessage } from '../../shared/src/messages/wager.js';
import { createWagerProducer, type WagerProducer } from '../../shared/src/producer.js';
import { createHttpSender } from '../../loadgen/src/http-sender.js';
import { createKafkaSender } from '../../loadgen/src/kafka-sender.js';
import { createPacer } from '../../loadgen/src/pacer.js';
import type { Rng } from '../../loadgen/src/random.js';
import type { Sender } from '../../loadgen/src/sender.js';
import { createTraffic, type GameSpec, type TrafficEvent } from '../../loadgen/src/traffic.js';

export interface SentWager {
  /** The first copy sent; later copies may carry another occurredAt. */
  readonly wager: WagerMessage;
  /** At least one copy acknowledged (Kafka acks = all, or a 202 from the gateway). */
  acked: boolean;
  copies: number;
}

/** Bad events by the dead-letter reason they must get: how many were sent, how many acknowledged. */
export interface BadTally {
  sent: number;
  acked: number;
}

export interface StreamRecord {
  /** Every valid wager, by eventId. */
  readonly wagers: Map<string, SentWager>;
  readonly bad: Map<string, BadTally>;
  /** Items the gateway must refuse with a per-item code. */
  readonly gateway: { expected: number; matched: number; mismatches: string[] };
  readonly messages: { kafka: number; http: number };
  /** Copies of a wager sent after its first (re-sends, also across paths). */
  copiesSent: number;
  readonly errors: Map<string, number>;
}

export interface StreamOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** The gateway's base URL; a gateway that died is restarted on the same port. */
  readonly gatewayUrl: string;
  readonly apiKey: string;
  readonly games: readonly GameSpec[];
  readonly seed: number;
  readonly kafkaRate: number;
  readonly httpRate: number;
}

export interface Stream {
  readonly record: StreamRecord;
  /** Paces both paths until `until` resolves. */
  run(until: Promise<void>): Promise<void>;
  /** Re-sends `n` earlier wagers, each through a random path, some with another occurredAt. */
  resendBurst(n: number, rng: Rng): Promise<{ kafka: number; http: number }>;
  /** One of every kind of bad event through Kafka, and a gateway batch mixing bad items with good ones. */
  badInputBurst(rng: Rng): Promise<{ kafka: number; http: number }>;
  /** Waits for every answer still outstanding. */
  settle(): Promise<void>;
  /** Re-sends every wager none of whose copies was acknowledged until each is; resolves with how many there were. */
  confirmAll(timeoutMs: number): Promise<{ resent: number; stillUnconfirmed: number }>;
  inFlight(): number;
  /** Attempts the senders repeated (broker or gateway unavailable), and 429s waited out. */
  retries(): { kafka: number; http: number; throttled: number };
  close(): Promise<void>;
}

const TICK_MS = 10;
/** 180 s: longer than any single outage the suite injects (a broker restart is 15-40 s here). */
const RETRY_FOR_MS = 180_000;

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Bad input for the Kafka path, one of each kind the pipeline names, with the reason it must give. */
function badKafkaEvents(
  wager: WagerMessage,
  otherCurrency: string,
): { reason: string; key: string | null; value: Buffer }[] {
  const json = (over: Record<string, unknown>): Buffer =>
    Buffer.from(JSON.stringify({ ...wager, eventId: randomUUID(), ...over }));
  const noAmount: Record<string, unknown> = { ...wager };
  delete noAmount['amountMinor'];
  return [
    { reason: 'empty_payload', key: wager.playerId, value: Buffer.alloc(0) },
    { reason: 'invalid_utf8', key: wager.playerId, value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
    { reason: 'malformed_json', key: wager.playerId, value: Buffer.from('{"eventId": "') },
    { reason: 'not_an_object', key: wager.playerId, value: Buffer.from('[1,2,3]') },
    {
      reason: 'missing_field',
      key: wager.playerId,
      value: Buffer.from(JSON.stringify({ ...noAmount, eventId: randomUUID() })),
    },
    { reason: 'wrong_type', key: wager.playerId, value: json({ amountMinor: String(wager.amountMinor) }) },
    { reason: 'invalid_event_id', key: wager.playerId, value: json({ eventId: 'not-a-uuid' }) },
    { reason: 'invalid_occurred_at', key: wager.playerId, value: json({ occurredAt: 'yesterday' }) },
    {
      reason: 'occurred_at_in_future',
      key: wager.playerId,
      value: json({ occurredAt: new Date(Date.now() + 3 * 3600_000).toISOString() }),
    },
    { reason: 'invalid_game_id', key: wager.playerId, value: json({ gameId: 'bad game!' }) },
    { reason: 'invalid_player_id', key: null, value: json({ playerId: 'bad player!' }) },
    { reason: 'invalid_currency', key: wager.playerId, value: json({ currency: 'EURO' }) },
    { reason: 'amount_out_of_range', key: wager.playerId, value: json({ amountMinor: 0 }) },
    { reason: 'unknown_game', key: wager.playerId, value: json({ gameId: 'chaos-no-such-game' }) },
    { reason: 'currency_mismatch', key: wager.playerId, value: json({ currency: otherCurrency }) },
  ];
}

export function createStream(opts: StreamOptions): Stream {
  const record: StreamRecord = {
    wagers: new Map(),
    bad: new Map(),
    gateway: { expected: 0, matched: 0, mismatches: [] },
    messages: { kafka: 0, http: 0 },
    copiesSent: 0,
    errors: new Map(),
  };
  /** Insertion order of `record.wagers`, for drawing earlier wagers to re-send. */
  const order: string[] = [];
  const kafkaMaxInFlight = Math.max(1000, opts.kafkaRate * 2);
  const httpMaxInFlight = Math.max(500, opts.httpRate * 3);
  const kafkaSender = createKafkaSender({
    kafka: opts.kafka,
    topic: opts.topic,
    retryForMs: RETRY_FOR_MS,
    maxBufferedMessages: kafkaMaxInFlight + 5_000,
  });
  const httpSender = createHttpSender({
    baseUrl: opts.gatewayUrl,
    apiKey: opts.apiKey,
    batchSize: 50,
    concurrency: 4,
    retryForMs: RETRY_FOR_MS,
  });
  /** Bad bytes (invalid UTF-8, empty) and the final re-sends: the producer library itself. */
  const extra: WagerProducer = createWagerProducer({ kafka: opts.kafka, topic: opts.topic });
  let connected: Promise<void> | null = null;
  const connect = (): Promise<void> =>
    (connected ??= Promise.all([kafkaSender.connect(), httpSender.connect(), extra.connect()]).then(
      () => undefined,
    ));
  const counts = { kafka: 0, http: 0 };
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
    return p;
  };
  const eventCurrency = new Map(opts.games.map((g) => [g.gameId, g.currency]));
  const otherCurrencyOf = (gameId: string): string => {
    const mine = eventCurrency.get(gameId);
    return opts.games.find((g) => g.currency !== mine)?.currency ?? (mine === 'EUR' ? 'USD' : 'EUR');
  };

  function noteWager(wager: WagerMessage): SentWager {
    const id = wager.eventId.toLowerCase();
    let entry = record.wagers.get(id);
    if (entry === undefined) {
      entry = { wager, acked: false, copies: 0 };
      record.wagers.set(id, entry);
      order.push(id);
    } else record.copiesSent++;
    entry.copies++;
    return entry;
  }

  function dispatch(path: 'kafka' | 'http', event: TrafficEvent): Promise<void> {
    const sender: Sender = path === 'kafka' ? kafkaSender : httpSender;
    record.messages[path]++;
    counts[path]++;
    if (event.kind === 'invalid') {
      const tally = record.bad.get(event.reason) ?? { sent: 0, acked: 0 };
      record.bad.set(event.reason, tally);
      tally.sent++;
      return track(
        sender.send(event).then((outcome) => {
          counts[path]--;
          if (outcome.ok) tally.acked++;
          else bump(record.errors, `${path}:${outcome.code}`);
        }),
      );
    }
    const entry = noteWager(event.wager);
    return track(
      sender.send(event).then((outcome) => {
        counts[path]--;
        if (outcome.ok) entry.acked = true;
        else bump(record.errors, `${path}:${outcome.code}`);
      }),
    );
  }

  const copyOf = (wager: WagerMessage, rng: Rng): TrafficEvent => ({
    kind: 'wager',
    origin: -1,
    duplicate: true,
    wager:
      rng.float() < 0.3
        ? { ...wager, occurredAt: new Date(Date.parse(wager.occurredAt) + 1 + rng.below(5000)).toISOString() }
        : wager,
  });

  return {
    record,

    async run(until) {
      await connect();
      let stop = false;
      void until.then(() => {
        stop = true;
      });
      const paths = [
        {
          path: 'kafka' as const,
          rate: opts.kafkaRate,
          max: kafkaMaxInFlight,
          // 3 % re-sends, 1 % bad input (malformed JSON, amount out of range, unknown game, currency mismatch).
          traffic: createTraffic({
            seed: `${opts.seed}/kafka`,
            games: opts.games,
            dupRate: 0.03,
            invalidRate: 0.01,
          }),
        },
        {
          path: 'http' as const,
          rate: opts.httpRate,
          max: httpMaxInFlight,
          traffic: createTraffic({ seed: `${opts.seed}/http`, games: opts.games, dupRate: 0.03 }),
        },
      ].filter((p) => p.rate > 0);
      const start = performance.now();
      const pacers = paths.map((p) => createPacer({ rate: p.rate, startMs: start }));
      for (let tick = 1; !stop; tick++) {
        const now = performance.now();
        const wall = Date.now();
        paths.forEach((p, i) => {
          const n = pacers[i]?.take(now, p.max - counts[p.path]) ?? 0;
          for (let k = 0; k < n; k++) void dispatch(p.path, p.traffic.next(wall));
        });
        await new Promise((r) => setTimeout(r, Math.max(0, start + tick * TICK_MS - performance.now())));
      }
      await Promise.all([kafkaSender.flush(), httpSender.flush()]);
    },

    async resendBurst(n, rng) {
      await connect();
      const sent = { kafka: 0, http: 0 };
      const sends: Promise<void>[] = [];
      for (let i = 0; i < n && order.length > 0; i++) {
        const entry = record.wagers.get(order[rng.below(order.length)] ?? '');
        if (entry === undefined) continue;
        const path = rng.float() < 0.5 ? 'kafka' : 'http';
        sent[path]++;
        sends.push(dispatch(path, copyOf(entry.wager, rng)));
      }
      await Promise.all(sends);
      return sent;
    },

    async badInputBurst(rng) {
      await connect();
      const base = opts.games[rng.below(opts.games.length)] ?? opts.games[0];
      if (base === undefined) return { kafka: 0, http: 0 };
      const template: WagerMessage = {
        eventId: randomUUID(),
        occurredAt: new Date().toISOString(),
        gameId: base.gameId,
        playerId: `bad-${rng.below(1000)}`,
        currency: base.currency,
        amountMinor: 1 + rng.below(5000),
      };
      const kafkaBad = badKafkaEvents(template, otherCurrencyOf(base.gameId));
      const sends = kafkaBad.map(async (b) => {
        const tally = record.bad.get(b.reason) ?? { sent: 0, acked: 0 };
        record.bad.set(b.reason, tally);
        tally.sent++;
        record.messages.kafka++;
        try {
          await extra.sendRaw(b.key, b.value);
          tally.acked++;
        } catch (e) {
          bump(record.errors, `kafka-bad:${toError(e).name}`);
        }
      });

      // The gateway: good wagers beside items it must refuse, and an unknown game it must accept
      // (only the aggregator knows the games) and the aggregator must dead-letter.
      const good = (): WagerMessage => ({
        ...template,
        eventId: randomUUID(),
        playerId: `http-bad-${rng.below(1000)}`,
        amountMinor: 1 + rng.below(5000),
      });
      const items: { item: unknown; expect: string | null; wager?: WagerMessage }[] = [];
      const add = (item: unknown, expect: string | null, wager?: WagerMessage): number =>
        items.push(wager === undefined ? { item, expect } : { item, expect, wager }) - 1;
      const g1 = good();
      add(g1, null, g1);
      add({ ...good(), eventId: 'not-a-uuid' }, 'invalid_event_id');
      const missing: Record<string, unknown> = { ...good() };
      delete missing['amountMinor'];
      add(missing, 'missing_field');
      add({ ...good(), amountMinor: 1_000_000_001 }, 'amount_out_of_range');
      add({ ...good(), currency: 'eur' }, 'invalid_currency');
      add(
        { ...good(), occurredAt: new Date(Date.now() + 3 * 3600_000).toISOString() },
        'occurred_at_in_future',
      );
      add('a string', 'not_an_object');
      const unknownIndex = add({ ...good(), gameId: 'chaos-no-such-game' }, null);
      const g2 = good();
      add(g2, null, g2);
      const body = JSON.stringify({ wagers: items.map((i) => i.item) });
      const entries = items.map((i) => (i.wager === undefined ? null : noteWager(i.wager)));
      record.messages.http += items.length;
      const unknown = record.bad.get('unknown_game') ?? { sent: 0, acked: 0 };
      record.bad.set('unknown_game', unknown);
      const http = (async () => {
        const deadline = Date.now() + RETRY_FOR_MS;
        for (let attempt = 0; Date.now() < deadline; attempt++) {
          let status: number;
          let text = '';
          // Every attempt may put it in Kafka (a 503 says none was acknowledged, not that none arrived).
          unknown.sent++;
          try {
            const res = await fetch(`${opts.gatewayUrl}/v1/wagers`, {
              method: 'POST',
              headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
              body,
              signal: AbortSignal.timeout(30_000),
            });
            status = res.status;
            text = await res.text();
          } catch {
            status = 0;
          }
          if (status === 202) {
            const answer = JSON.parse(text) as {
              accepted: number;
              rejected: { index: number; code: string }[];
            };
            const got = new Map(answer.rejected.map((r) => [r.index, r.code]));
            items.forEach((it, index) => {
              const code = got.get(index) ?? null;
              if (it.expect !== null) record.gateway.expected++;
              if (it.expect !== null && code === it.expect) record.gateway.matched++;
              // A good item Kafka did not acknowledge is reported so (it may or may not be in
              // Kafka); the final re-send covers it.
              else if (code !== it.expect && !(it.expect === null && code === 'kafka_unavailable'))
                record.gateway.mismatches.push(
                  `item ${index}: expected ${it.expect ?? 'accepted'}, got ${code ?? 'accepted'}`,
                );
            });
            entries.forEach((e, index) => {
              if (e !== null && !got.has(index)) e.acked = true;
            });
            if (!got.has(unknownIndex)) unknown.acked++;
            return;
          }
          if (status !== 0 && status < 500) {
            record.gateway.mismatches.push(`a mixed batch was answered ${status}: ${text.slice(0, 200)}`);
            return;
          }
          bump(record.errors, `http-bad:${status === 0 ? 'network' : `http_${status}`}`);
          await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
        }
      })();
      await Promise.all([...sends, http]);
      return { kafka: kafkaBad.length, http: items.length };
    },

    async settle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },

    async confirmAll(timeoutMs) {
      await connect();
      const unconfirmed = [...record.wagers.values()].filter((w) => !w.acked);
      const deadline = Date.now() + timeoutMs;
      await Promise.all(
        unconfirmed.map(async (w) => {
          while (!w.acked && Date.now() < deadline) {
            try {
              record.messages.kafka++;
              record.copiesSent++;
              w.copies++;
              await extra.send(w.wager);
              w.acked = true;
            } catch {
              await new Promise((r) => setTimeout(r, 1000));
            }
          }
        }),
      );
      return { resent: unconfirmed.length, stillUnconfirmed: unconfirmed.filter((w) => !w.acked).length };
    },

    inFlight: () => counts.kafka + counts.http,
    retries: () => ({
      kafka: kafkaSender.stats().retries,
      http: httpSender.stats().retries,
      throttled: httpSender.stats().throttled,
    }),

    async close() {
      await Promise.allSettled([kafkaSender.close(), httpSender.close(), extra.disconnect()]);
    },
  };
}
