/** A projector pool view for unit tests: the jackpot and tier read from `poolId`, EUR, cycle 1. */
import type { PoolView } from '../../services/projector/src/projection.js';

export function poolView(poolId: string, version: number, amountMinor = 100n): PoolView {
  const [jackpotId = '', tier = ''] = poolId.split(':');
  return {
    poolId,
    jackpotId,
    tier,
    currency: 'EUR',
    amountMinor,
    cycle: 1,
    version,
    updatedAt: '2026-11-29T12:00:00.000Z',
  };
}
