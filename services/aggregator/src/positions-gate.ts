/**
 * Postgres holds the authoritative positions; this is where the replica meets them. On every
 * assignment it checks that the stored positions belong to the topic it reads
 * (shared/src/positions.ts), creates the missing ones, and seeks there; windows wait on `ready()`
 * and are written only for the cluster checked. Positions that do not belong to the topic raise
 * the alarm: the topic is paused, readiness names the problem, nothing is applied, and the check
 * repeats every few seconds, so that a re-base by the operator
 * (`npm run jackpot -- positions rebase`) lets the replica go on.
 */
import type { Admin, Consumer } from 'kafkajs';
import { sleep, type Db } from '../../../shared/src/db.js';
import { toError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logger.js';
import { checkPositions, describeProblems, readTopicSource } from '../../../shared/src/positions.js';

/** While positions are refused (or cannot be checked), they are checked again this often. */
const POSITIONS_RECHECK_MS = 5_000;

export interface PositionsGate {
  /** A new assignment: checks the positions and seeks its partitions there. */
  assign(partitions: readonly number[]): void;
  /** Checks the current assignment's positions again (one was missing). */
  reposition(): void;
  /**
   * Resolves once the current assignment's positions are checked and sought to (true), or false
   * when the assignment was superseded. Nothing is applied before.
   */
  ready(): Promise<boolean>;
  /** Why the stored positions are refused, or null. */
  alarm(): string | null;
  /** The cluster the positions were last checked against; windows are written only for it. */
  clusterId(): string | undefined;
  /** The periodic check: raises the alarm when the positions stopped belonging to the topic. */
  recheck(): Promise<void>;
  /**
   * The broker handed us messages of `partition` past its stored position `storedNext` (a failed
   * window, or a fetch that started elsewhere): seeks back to it, or raises the alarm when the
   * broker no longer has it.
   */
  seekBack(partition: number, storedNext: string, fetchedFirst: string | null): Promise<void>;
}

export function createPositionsGate(deps: {
  readonly pool: Db;
  readonly admin: Pick<Admin, 'describeCluster' | 'fetchTopicOffsets'>;
  readonly consumer: Pick<Consumer, 'seek' | 'pause' | 'resume'>;
  readonly config: { readonly groupId: string; readonly topic: string };
  readonly logger: Logger;
  readonly stopping: () => boolean;
  readonly joined: () => boolean;
  /** True while fetching is held for backpressure: the topic then stays paused when the alarm clears. */
  readonly fetchHeld: () => boolean;
}): PositionsGate {
  const { pool, admin, consumer, config, logger } = deps;
  /** The partitions of the current assignment. */
  let assigned: readonly number[] = [];
  let clusterId: string | undefined;
  let alarm: string | null = null;
  let gate: Promise<boolean> = Promise.resolve(false);
  let assignment = 0;

  async function position(partitions: readonly number[], mine: number): Promise<boolean> {
    for (;;) {
      if (deps.stopping() || mine !== assignment) return false;
      try {
        const check = await checkPositions(pool, admin, { groupId: config.groupId, topic: config.topic });
        if (mine !== assignment) return false;
        if (check.problems.length > 0) {
          raiseAlarm(describeProblems(check.problems));
        } else {
          clusterId = check.clusterId;
          for (const p of partitions) {
            const next = check.positions.get(p);
            if (next !== undefined)
              consumer.seek({ topic: config.topic, partition: p, offset: next.toString() });
          }
          if (alarm !== null) {
            logger.info(
              { topic: config.topic, groupId: config.groupId },
              'stored positions belong to the topic again; resuming',
            );
            alarm = null;
            // Not while fetching is held for backpressure: the hold resumes when it ends.
            if (!deps.fetchHeld()) consumer.resume([{ topic: config.topic }]);
          }
          logger.info({ partitions, clusterId }, 'assigned partitions; positions checked and sought to');
          return true;
        }
      } catch (e) {
        logger.warn({ err: toError(e).message }, 'could not check the stored positions; retrying');
      }
      await sleep(POSITIONS_RECHECK_MS);
    }
  }

  function raiseAlarm(reason: string): void {
    if (alarm === null) {
      logger.error(
        { topic: config.topic, groupId: config.groupId, problem: reason },
        `stored positions refused, nothing is applied: ${reason}. If the topic was replaced on purpose, re-base the group: npm run jackpot -- positions rebase --group ${config.groupId} --topic ${config.topic} --to earliest|latest`,
      );
      consumer.pause([{ topic: config.topic }]);
    }
    alarm = reason;
  }

  function reposition(): void {
    const mine = ++assignment;
    gate = position(assigned, mine);
  }

  return {
    assign(partitions) {
      assigned = partitions;
      reposition();
    },
    reposition,
    ready: () => gate,
    alarm: () => alarm,
    clusterId: () => clusterId,
    async recheck() {
      if (deps.stopping() || !deps.joined() || alarm !== null) return;
      try {
        const check = await checkPositions(pool, admin, { groupId: config.groupId, topic: config.topic });
        if (check.problems.length > 0) {
          raiseAlarm(describeProblems(check.problems));
          reposition();
        }
      } catch (e) {
        logger.warn({ err: toError(e).message }, 'periodic positions check failed');
      }
    },
    async seekBack(partition, storedNext, fetchedFirst) {
      const range = (await readTopicSource(admin, config.topic)).ranges.find(
        (r) => r.partition === partition,
      );
      if (range !== undefined && BigInt(storedNext) < range.low) {
        raiseAlarm(
          `partition ${partition}: stored position ${storedNext} is below the partition's first offset ${range.low} (messages were deleted before they were applied)`,
        );
        reposition();
        return;
      }
      logger.warn(
        { partition, stored: storedNext, fetched: fetchedFirst },
        'position gap; seeking back to the stored offset',
      );
      consumer.seek({ topic: config.topic, partition, offset: storedNext });
    },
  };
}
