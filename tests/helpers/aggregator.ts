import type { AggregatorDeps } from '../../services/aggregator/src/aggregator.js';
import { FAST_GROUP, randomGroupId, randomTopic } from './kafka.js';

/**
 * An in-process aggregator's topics (fresh ones) and configuration for a test: small windows, a
 * short wait, a fast group, no fault points, the service's default retention.
 */
export async function testAggregatorConfig(
  prefix: string,
  partitions: number,
  batchMaxEvents: number,
): Promise<AggregatorDeps['config']> {
  return {
    groupId: randomGroupId(`${prefix}-agg`),
    topic: await randomTopic(`${prefix}-wagers`, partitions),
    poolUpdatesTopic: await randomTopic(`${prefix}-updates`, 1),
    dlqTopic: await randomTopic(`${prefix}-dlq`, 1),
    awardsTopic: await randomTopic(`${prefix}-awards`, 1),
    batchMaxEvents,
    batchMaxWaitMs: 20,
    partitionsConsumedConcurrently: partitions,
    sessionTimeoutMs: FAST_GROUP.sessionTimeout ?? 6000,
    faultPoints: new Map(),
    retentionDays: { ledger: 0, applied_events: 7, dead_letters: 30 },
  };
}
