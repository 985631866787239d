/**
 * The load generator's view of two jackpots, for its unit tests: two games sharing a mini and a
 * grand pool (one with a reserve share), and a game of another jackpot and currency whose one pool
 * takes the whole wager.
 */
import type { GameShares } from '../../loadgen/src/jackpot-config.js';

const jpPools = [
  { poolId: 'jp:mini', contributionPpm: 5_000, reservePpm: 1_000 },
  { poolId: 'jp:grand', contributionPpm: 1_234, reservePpm: 0 },
];

export const TWO_JACKPOTS: GameShares = {
  games: [
    { gameId: 'g1', jackpotId: 'jp', currency: 'EUR', pools: jpPools },
    { gameId: 'g2', jackpotId: 'jp', currency: 'EUR', pools: jpPools },
    {
      gameId: 'h1',
      jackpotId: 'big',
      currency: 'USD',
      pools: [{ poolId: 'big:main', contributionPpm: 1_000_000, reservePpm: 0 }],
    },
  ],
};
