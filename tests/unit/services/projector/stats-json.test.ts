import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  exactNumber,
  gameStatsJson,
  jackpotStatsJson,
  poolHistoryJson,
} from '../../../../services/projector/src/stats-json.js';

const range = { fromMs: Date.parse('2026-11-30T00:00:00Z'), toMs: Date.parse('2026-12-01T00:00:00Z') };

void test('exactNumber passes integers as Postgres writes them and refuses anything else', () => {
  const table: Array<[string, boolean]> = [
    ['0', true],
    ['-12', true],
    ['123456789012345678901234567890', true],
    ['1.5', false],
    ['1e3', false],
    ['', false],
    ['null', false],
    ['1,2', false],
  ];
  for (const [text, ok] of table) {
    if (ok) assert.equal(exactNumber(text), text);
    else assert.throws(() => exactNumber(text), RangeError, text);
  }
});

void test('history JSON: exact numbers past 2^53, null wagered for an archived day', () => {
  const json = poolHistoryJson({ poolId: 'eu:mini', jackpotId: 'eu', currency: 'EUR' }, range, [
    {
      hour: '2026-11-30T09:00:00Z',
      wagers: '2',
      wagered_minor: '400',
      contribution_micro: '90071992547409930',
      wins: '1',
      won_minor: '700',
      archived: false,
    },
    {
      hour: '2026-11-30T00:00:00Z',
      wagers: '15',
      wagered_minor: null,
      contribution_micro: '150',
      wins: '0',
      won_minor: '0',
      archived: true,
    },
  ]);
  assert.match(json, /"contributionMicro":90071992547409930,/);
  // Parsed with the exact digits kept (a double would round the micro-units past 2^53).
  const exact = JSON.parse(json.replace(/"contributionMicro":(\d+)/g, '"contributionMicro":"$1"')) as unknown;
  assert.deepEqual(exact, {
    poolId: 'eu:mini',
    jackpotId: 'eu',
    currency: 'EUR',
    from: '2026-11-30T00:00:00.000Z',
    to: '2026-12-01T00:00:00.000Z',
    hours: [
      {
        hour: '2026-11-30T09:00:00Z',
        wagers: 2,
        wageredMinor: 400,
        contributionMicro: '90071992547409930',
        wins: 1,
        wonMinor: 700,
        archived: false,
      },
      {
        hour: '2026-11-30T00:00:00Z',
        wagers: 15,
        wageredMinor: null,
        contributionMicro: '150',
        wins: 0,
        wonMinor: 0,
        archived: true,
      },
    ],
  });
});

void test('statistics JSON', () => {
  const sums = {
    wagers: '3',
    wagered_minor: '600',
    contribution_micro: '6000000',
    wins: '1',
    won_minor: '50',
  };
  assert.deepEqual(
    JSON.parse(jackpotStatsJson(range, [{ jackpot_id: 'eu', currency: 'EUR', pools: 2, ...sums }])),
    {
      from: '2026-11-30T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      jackpots: [
        {
          jackpotId: 'eu',
          currency: 'EUR',
          pools: 2,
          wagers: 3,
          wageredMinor: 600,
          contributionMicro: 6000000,
          wins: 1,
          wonMinor: 50,
        },
      ],
    },
  );
  assert.deepEqual(
    (
      JSON.parse(gameStatsJson(range, [{ game_id: 'g"1', jackpot_id: 'eu', currency: 'EUR', ...sums }])) as {
        games: unknown;
      }
    ).games,
    [
      {
        gameId: 'g"1',
        jackpotId: 'eu',
        currency: 'EUR',
        wagers: 3,
        wageredMinor: 600,
        contributionMicro: 6000000,
        wins: 1,
        wonMinor: 50,
      },
    ],
  );
  assert.throws(
    () => jackpotStatsJson(range, [{ jackpot_id: 'eu', currency: 'EUR', pools: 2, ...sums, wagers: 'NaN' }]),
    RangeError,
  );
});
