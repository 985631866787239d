/**
 * The aggregator's statements, one builder each, `$n` parameters and arrays through unnest. Those
 * of fixed text are named (`Sql.name`): prepared once a connection. At 250-wager windows that took
 * Postgres' CPU for them from 4.9 to 2.8 ms a window (README, "Performance of the write path");
 * at 10,000-wager windows the claim and the COPY dwarf it. The claim is not named: its ids
 * arrive as one text that the planner reads when it plans, and a generic plan measured no better.
 * Lock order inside a batch transaction, the same for every replica so they never deadlock:
 * consumer_offsets rows (by partition), applied_events keys (by event id, then week),
 * pool_totals rows (by pool id). Wins lock only pool_totals rows.
 */
import type { Sql } from '../../../shared/src/db.js';
import type { HourlyRollupRows } from './hourly-rollup.js';

/**
 * The fence: locks the position rows of these partitions, in partition order, and returns them
 * with the Kafka cluster they belong to. Rows are created when a partition is assigned (see
 * shared/src/positions.ts), never here: a partition without one is not applied. Each row also
 * carries the transaction's start (`now()`, epoch milliseconds), from which the weeks of the
 * window's claims are worked out (`claimWeeks`, shared/src/domain/partitions.ts; see claimEvents).
 */
export const lockOffsets = (groupId: string, topic: string, partitions: readonly number[]): Sql => ({
  name: 'aggregator.fence',
  text: `SELECT o.partition, o.next_offset::text AS next_offset, s.cluster_id,
                floor(extract(epoch FROM now()) * 1000)::bigint::text AS now_ms
         FROM jackpot.consumer_offsets o
         LEFT JOIN jackpot.consumer_sources s ON s.group_id = o.group_id AND s.topic = o.topic
         WHERE o.group_id = $1 AND o.topic = $2 AND o.partition = ANY($3::int[])
         ORDER BY o.partition
         FOR UPDATE OF o`,
  values: [groupId, topic, partitions],
});

/**
 * The jackpot (and its currency) of each game, and the fx rates from each wager currency, in one
 * round trip: a game's row has `game_id`, `jackpot_id` and `currency`, a rate's `from_currency`,
 * `to_currency` and `rate_micro`, the other columns null. Rates from the jackpot's own currency
 * come along and are never used.
 */
export interface LinkOrRateRow {
  readonly game_id: string | null;
  readonly jackpot_id: string | null;
  readonly currency: string | null;
  readonly from_currency: string | null;
  readonly to_currency: string | null;
  readonly rate_micro: string | null;
}

export const gameLinksAndRates = (gameIds: readonly string[], currencies: readonly string[]): Sql => ({
  name: 'aggregator.links-and-rates',
  text: `SELECT g.game_id, j.jackpot_id, j.currency::text AS currency,
                NULL::text AS from_currency, NULL::text AS to_currency, NULL::text AS rate_micro
           FROM jackpot.games g JOIN jackpot.jackpots j USING (jackpot_id) WHERE g.game_id = ANY($1::text[])
         UNION ALL
         SELECT NULL, NULL, NULL, from_currency::text, to_currency::text, rate_micro::text
           FROM jackpot.fx_rates WHERE from_currency = ANY($2::text[])`,
  values: [gameIds, currencies],
});

/**
 * Claims event ids for this batch and returns the ones that were already claimed (by an earlier
 * batch or a concurrent replica): usually none, so almost nothing travels back. Inserted sorted:
 * see the lock order. The ids are validated lower-case UUIDs (no comma, no quote), sent as one
 * comma-separated text: a 10,000-element array literal cost pg's serializer more than the join.
 *
 * applied_events is partitioned by the week of the claim (retention drops whole weeks, see
 * migration 0007), and a primary key is only unique within a partition: ids claimed in earlier
 * weeks still kept are looked up first (one index probe per earlier week kept), and this week's
 * insert collides with a concurrent claim of the same id this week. `week` is the transaction's
 * week, read by the fence in the same transaction (`now()` is the transaction's start, so it is
 * the week this statement would compute), and sent as a parameter rather than computed here: the
 * planner then prunes this week's partition and the later ones from the lookup before it runs,
 * instead of probing this week's index (the one that grows all week) once per id.
 *
 * Across midnight between Sunday and Monday UTC, two windows claiming one id (it would take one
 * id under two Kafka keys: one key's partition is applied by one window at a time) could each
 * miss the other's uncommitted row in the other week's partition. So in the first hour of a week
 * (`alsoWeek`, `claimWeeks` in shared/src/domain/partitions.ts) a claim takes each id in the week
 * before too, and an id is new only if it was taken in both: the late Sunday claim and the early
 * Monday one collide on the week before's key, the early Monday claims and the later ones on this
 * week's. A claim made after that hour finds a Sunday claim in its lookup of earlier weeks, since
 * no window transaction commits later than 50 minutes after it started (migration 0011, checked
 * at COMMIT). Rows are inserted in (id, week) order, one order for every claim. The rest of the week
 * runs the first statement below, the one measured on the hot path; the second, which counts two
 * rows an id, only in that hour (2,000 ids: ~25 ms against ~17).
 */
export const claimEvents = (
  eventIds: readonly string[],
  week: string,
  alsoWeek: string | null = null,
): Sql =>
  alsoWeek === null
    ? {
        text: `WITH ids AS (SELECT id FROM unnest(string_to_array($1::text, ',')::uuid[]) AS id),
              earlier AS (SELECT e.event_id FROM jackpot.applied_events e
                          WHERE e.event_id IN (SELECT id FROM ids) AND e.claimed_week < $2::date),
              claimed AS (INSERT INTO jackpot.applied_events (event_id, claimed_week)
                          SELECT id, $2::date FROM ids WHERE id NOT IN (SELECT event_id FROM earlier) ORDER BY id
                          ON CONFLICT DO NOTHING RETURNING event_id)
         SELECT id::text AS event_id FROM ids WHERE id NOT IN (SELECT event_id FROM claimed)`,
        values: [eventIds.join(','), week],
      }
    : {
        text: `WITH ids AS (SELECT id FROM unnest(string_to_array($1::text, ',')::uuid[]) AS id),
              earlier AS (SELECT e.event_id FROM jackpot.applied_events e
                          WHERE e.event_id IN (SELECT id FROM ids) AND e.claimed_week < $3::date),
              claimed AS (INSERT INTO jackpot.applied_events (event_id, claimed_week)
                          SELECT id, w FROM ids CROSS JOIN (VALUES ($3::date), ($2::date)) AS weeks (w)
                          WHERE id NOT IN (SELECT event_id FROM earlier) ORDER BY id, w
                          ON CONFLICT DO NOTHING RETURNING event_id),
              taken AS (SELECT event_id FROM claimed GROUP BY event_id HAVING count(*) = 2)
         SELECT id::text AS event_id FROM ids WHERE id NOT IN (SELECT event_id FROM taken)`,
        values: [eventIds.join(','), week, alsoWeek],
      };

/**
 * One row a wager, its pool shares as parallel arrays (migration 0009); binary format: see
 * ledger-copy.ts for why and how.
 */
export const COPY_LEDGER = `COPY jackpot.ledger
  (event_id, occurred_at, game_id, player_id, wager_currency, wager_minor, fx_rate_micro,
   pool_ids, cycles, contribution_micro, overflow_micro, reserve_micro) FROM STDIN WITH (FORMAT binary)`;

export interface DeadLetterColumns {
  reasons: string[];
  messages: string[];
  eventIds: (string | null)[];
  partitions: number[];
  offsets: string[];
  keys: (Buffer | null)[];
  payloads: Buffer[];
}

/** Dead letters (none is fine) and the new positions (none is fine), in one round trip. */
export const saveDeadLettersAndPositions = (
  groupId: string,
  topic: string,
  d: DeadLetterColumns,
  partitions: readonly number[],
  nextOffsets: readonly string[],
): Sql => ({
  name: 'aggregator.dead-letters-and-positions',
  text: `WITH dead AS (
           INSERT INTO jackpot.dead_letters (reason, message, event_id, topic, kafka_partition, kafka_offset, kafka_key, payload)
           SELECT reason, message, event_id, $2, partition, "offset", key, payload
           FROM unnest($5::text[], $6::text[], $7::uuid[], $8::int[], $9::bigint[], $10::bytea[], $11::bytea[])
                AS d(reason, message, event_id, partition, "offset", key, payload)
           ON CONFLICT DO NOTHING)
         UPDATE jackpot.consumer_offsets o SET next_offset = p.next_offset, updated_at = now()
         FROM unnest($3::int[], $4::bigint[]) AS p(partition, next_offset)
         WHERE o.group_id = $1 AND o.topic = $2 AND o.partition = p.partition`,
  values: [
    groupId,
    topic,
    partitions,
    nextOffsets,
    d.reasons,
    d.messages,
    d.eventIds,
    d.partitions,
    d.offsets,
    d.keys,
    d.payloads,
  ],
});

/**
 * A window's hourly rollups (hourly-rollup.ts): one row per (hour, pool, game), added to what the
 * hour already holds. Runs while the window holds the pools' locks, which every writer of a pool's
 * rollup rows holds too (wins take the same lock), so replicas never deadlock on them.
 */
export const upsertHourlyRollups = (r: HourlyRollupRows): Sql => ({
  name: 'aggregator.hourly-rollups',
  text: `INSERT INTO jackpot.pool_hourly_rollups AS h
           (hour, pool_id, game_id, wagers, wagered_minor, contribution_micro, overflow_micro, reserve_micro)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[], $5::numeric[], $6::numeric[],
                              $7::numeric[], $8::numeric[])
         ON CONFLICT (hour, pool_id, game_id) DO UPDATE
           SET wagers = h.wagers + excluded.wagers, wagered_minor = h.wagered_minor + excluded.wagered_minor,
               contribution_micro = h.contribution_micro + excluded.contribution_micro,
               overflow_micro = h.overflow_micro + excluded.overflow_micro,
               reserve_micro = h.reserve_micro + excluded.reserve_micro`,
  values: [
    r.hours,
    r.poolIds,
    r.gameIds,
    r.wagers,
    r.wageredMinor,
    r.contributionMicro,
    r.overflowMicro,
    r.reserveMicro,
  ],
});
