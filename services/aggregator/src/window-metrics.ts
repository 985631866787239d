/**
 * The aggregator's instruments (`jackpot.aggregator.*`): what windows applied, dead-lettered,
 * retried, split and failed, how long they and their phases took, and two gauges read at scrape
 * time from the replica's state (positions refused, fetching held). docs/operations.md and the
 * dashboards name them; keep the names and units.
 */
import type { Meter } from '@opentelemetry/api';
import { LATENCY_BUCKETS_S } from '../../../shared/src/telemetry.js';
import type { WindowOutcome, WindowPhase } from './apply-window.js';

export function createWindowMetrics(
  meter: Meter,
  state: {
    /** True while the stored positions are refused (nothing is applied). */
    readonly positionsRefused: () => boolean;
    /** True while fetching is paused for memory or a full window queue. */
    readonly fetchHeld: () => boolean;
  },
) {
  const metrics = {
    wagers: meter.createCounter('jackpot.aggregator.wagers', {
      unit: '{wager}',
      description: 'Wagers consumed, by outcome',
    }),
    deadLetters: meter.createCounter('jackpot.aggregator.dead_letters', {
      unit: '{event}',
      description: 'Events dead-lettered, by reason',
    }),
    ledgerRows: meter.createCounter('jackpot.aggregator.ledger_rows', {
      unit: '{row}',
      description: 'Ledger rows written',
    }),
    batchDuration: meter.createHistogram('jackpot.aggregator.batch.duration', {
      unit: 's',
      description: 'Time to write one window, transaction included',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
    batchSize: meter.createHistogram('jackpot.aggregator.batch.size', {
      unit: '{wager}',
      description: 'Wagers per window',
      advice: { explicitBucketBoundaries: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000] },
    }),
    mysteryWins: meter.createCounter('jackpot.aggregator.mystery_wins', {
      unit: '{win}',
      description: 'Mystery triggers hit',
    }),
    retries: meter.createCounter('jackpot.aggregator.batch.retries', {
      unit: '{retry}',
      description: 'Window transactions retried',
    }),
    phaseDuration: meter.createHistogram('jackpot.aggregator.batch.phase.duration', {
      unit: 's',
      description: 'Time of each step of a window transaction (see WindowPhase); lock waits included',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    }),
    windowFailures: meter.createCounter('jackpot.aggregator.batch.failures', {
      unit: '{window}',
      description: 'Windows that failed and were handed back to Kafka',
    }),
    splits: meter.createCounter('jackpot.aggregator.batch.splits', {
      unit: '{split}',
      description: 'Windows split to isolate a message that fails them',
    }),
    positionAlarm: meter.createObservableGauge('jackpot.aggregator.positions.alarm', {
      unit: '1',
      description: '1 while the stored positions do not belong to the topic (nothing is applied), else 0',
    }),
  };
  metrics.positionAlarm.addCallback((r) => r.observe(state.positionsRefused() ? 1 : 0));
  const fetchHeld = meter.createObservableGauge('jackpot.aggregator.fetch.held', {
    unit: '1',
    description: '1 while fetching is paused for memory (critical pressure) or a full window queue, else 0',
  });
  fetchHeld.addCallback((r) => r.observe(state.fetchHeld() ? 1 : 0));

  return {
    retries: metrics.retries,
    splits: metrics.splits,
    windowFailures: metrics.windowFailures,
    recordPhase: (phase: WindowPhase, seconds: number): void =>
      metrics.phaseDuration.record(seconds, { phase }),
    /** A committed window: its duration, size and outcome. Returns the wagers dead-lettered. */
    recordWindow(outcome: WindowOutcome, events: number, seconds: number): number {
      metrics.batchDuration.record(seconds);
      metrics.batchSize.record(events);
      metrics.wagers.add(outcome.applied, { outcome: 'applied' });
      metrics.wagers.add(outcome.duplicates, { outcome: 'duplicate' });
      metrics.wagers.add(outcome.alreadyApplied, { outcome: 'already_applied' });
      metrics.ledgerRows.add(outcome.ledgerRows);
      metrics.mysteryWins.add(outcome.mysteryWins);
      let rejected = 0;
      for (const [reason, n] of outcome.rejected) {
        metrics.deadLetters.add(n, { reason });
        metrics.wagers.add(n, { outcome: 'dead_lettered' });
        rejected += n;
      }
      return rejected;
    },
  };
}

export type WindowMetrics = ReturnType<typeof createWindowMetrics>;
