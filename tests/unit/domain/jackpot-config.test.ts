import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_GAMES,
  MAX_POOLS,
  validateJackpotConfig,
  type ConfigIssueCode,
  type JackpotConfig,
} from '../../../shared/src/domain/jackpot-config.js';

const POOL = { tier: 'mini', seedMinor: 1000, contributionPpm: 5000 } as const;
const BODY = { currency: 'EUR', pools: [POOL], games: ['starburst-eu'] } as const;

function body(overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...BODY, ...overrides };
}
function pool(overrides: Record<string, unknown>): Record<string, unknown> {
  return body({ pools: [{ ...POOL, ...overrides }] });
}
function without(name: string, from: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...from };
  delete copy[name];
  return copy;
}

void test('a full configuration comes back normalised, with pool ids and defaults', () => {
  const result = validateJackpotConfig('eu-progressive', {
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1000, contributionPpm: 5000 },
      {
        tier: 'grand',
        seedMinor: 1_000_000,
        contributionPpm: 2000,
        reservePpm: 500,
        ceilingMinor: 5_000_000,
        overflow: 'next-cycle',
        mustHitByMinor: 5_000_000,
      },
      {
        tier: 'major',
        seedMinor: 0,
        contributionPpm: 0,
        ceilingMinor: null,
        overflow: null,
        mustHitByMinor: null,
      },
    ],
    games: ['starburst-eu', 'book:of:dead'],
  });
  const expected: JackpotConfig = {
    jackpotId: 'eu-progressive',
    currency: 'EUR',
    pools: [
      {
        poolId: 'eu-progressive:mini',
        tier: 'mini',
        seedMinor: 1000,
        contributionPpm: 5000,
        reservePpm: 0,
        ceilingMinor: null,
        overflow: null,
        mustHitByMinor: null,
      },
      {
        poolId: 'eu-progressive:grand',
        tier: 'grand',
        seedMinor: 1_000_000,
        contributionPpm: 2000,
        reservePpm: 500,
        ceilingMinor: 5_000_000,
        overflow: 'next-cycle',
        mustHitByMinor: 5_000_000,
      },
      {
        poolId: 'eu-progressive:major',
        tier: 'major',
        seedMinor: 0,
        contributionPpm: 0,
        reservePpm: 0,
        ceilingMinor: null,
        overflow: null,
        mustHitByMinor: null,
      },
    ],
    games: ['starburst-eu', 'book:of:dead'],
  };
  assert.deepEqual(result, { ok: true, config: expected });
});

interface Case {
  readonly name: string;
  readonly jackpotId?: string;
  readonly body: unknown;
  /** Every issue expected, as `path code`, in order; or `ok`. */
  readonly expect: readonly string[] | 'ok';
}

const CASES: readonly Case[] = [
  // jackpot id (from the URL)
  { name: 'jackpot id with every allowed character', jackpotId: 'A-z_0.9', body: BODY, expect: 'ok' },
  { name: 'jackpot id of 64 characters', jackpotId: 'j'.repeat(64), body: BODY, expect: 'ok' },
  {
    name: 'jackpot id of 65 characters',
    jackpotId: 'j'.repeat(65),
    body: BODY,
    expect: ['jackpotId invalid_format'],
  },
  { name: 'empty jackpot id', jackpotId: '', body: BODY, expect: ['jackpotId invalid_format'] },
  {
    name: 'jackpot id with a colon (reserved for pool ids)',
    jackpotId: 'a:b',
    body: BODY,
    expect: ['jackpotId invalid_format'],
  },
  { name: 'jackpotId in the body equal to the URL', body: body({ jackpotId: 'jp' }), expect: 'ok' },
  {
    name: 'jackpotId in the body different from the URL',
    body: body({ jackpotId: 'other' }),
    expect: ['jackpotId inconsistent'],
  },
  // the body
  { name: 'body is an array', body: [BODY], expect: [' not_an_object'] },
  { name: 'body is null', body: null, expect: [' not_an_object'] },
  { name: 'unknown top-level field', body: body({ colour: 'red' }), expect: ['colour unknown_field'] },
  {
    name: 'read-only fields from a GET are ignored',
    body: body({ createdAt: 'x', updatedAt: 'y' }),
    expect: 'ok',
  },
  // currency
  { name: 'currency missing', body: without('currency', body({})), expect: ['currency missing_field'] },
  { name: 'currency lower case', body: body({ currency: 'eur' }), expect: ['currency invalid_format'] },
  { name: 'currency of four letters', body: body({ currency: 'EURO' }), expect: ['currency invalid_format'] },
  { name: 'currency a number', body: body({ currency: 978 }), expect: ['currency wrong_type'] },
  // pools
  { name: 'pools missing', body: without('pools', body({})), expect: ['pools missing_field'] },
  { name: 'pools empty', body: body({ pools: [] }), expect: ['pools empty'] },
  { name: 'pools an object', body: body({ pools: POOL }), expect: ['pools wrong_type'] },
  {
    name: `${MAX_POOLS} pools`,
    body: body({ pools: Array.from({ length: MAX_POOLS }, (_, i) => ({ ...POOL, tier: `t${i}` })) }),
    expect: 'ok',
  },
  {
    name: `${MAX_POOLS + 1} pools`,
    body: body({ pools: Array.from({ length: MAX_POOLS + 1 }, (_, i) => ({ ...POOL, tier: `t${i}` })) }),
    expect: ['pools too_many'],
  },
  { name: 'a pool that is a string', body: body({ pools: ['mini'] }), expect: ['pools[0] not_an_object'] },
  {
    name: 'duplicate tier',
    body: body({ pools: [POOL, { ...POOL, seedMinor: 5 }] }),
    expect: ['pools[1].tier duplicate'],
  },
  { name: 'unknown pool field', body: pool({ ceiling: 5000 }), expect: ['pools[0].ceiling unknown_field'] },
  {
    name: 'poolId and current from a GET are ignored',
    body: pool({ poolId: 'jp:mini', current: { cycle: 3 }, appliesFromCycle: 4 }),
    expect: 'ok',
  },
  {
    name: 'poolId that disagrees',
    body: pool({ poolId: 'jp:grand' }),
    expect: ['pools[0].poolId inconsistent'],
  },
  // tier
  {
    name: 'tier missing',
    body: body({ pools: [without('tier', { ...POOL })] }),
    expect: ['pools[0].tier missing_field'],
  },
  { name: 'tier of 32 characters', body: pool({ tier: 't'.repeat(32) }), expect: 'ok' },
  {
    name: 'tier of 33 characters',
    body: pool({ tier: 't'.repeat(33) }),
    expect: ['pools[0].tier invalid_format'],
  },
  { name: 'tier with a colon', body: pool({ tier: 'a:b' }), expect: ['pools[0].tier invalid_format'] },
  { name: 'tier a number', body: pool({ tier: 1 }), expect: ['pools[0].tier wrong_type'] },
  // seed
  { name: 'seed 0', body: pool({ seedMinor: 0 }), expect: 'ok' },
  {
    name: 'seed missing',
    body: body({ pools: [without('seedMinor', { ...POOL })] }),
    expect: ['pools[0].seedMinor missing_field'],
  },
  { name: 'seed null', body: pool({ seedMinor: null }), expect: ['pools[0].seedMinor wrong_type'] },
  { name: 'seed negative', body: pool({ seedMinor: -1 }), expect: ['pools[0].seedMinor out_of_range'] },
  { name: 'seed fractional', body: pool({ seedMinor: 10.5 }), expect: ['pools[0].seedMinor wrong_type'] },
  { name: 'seed as a string', body: pool({ seedMinor: '1000' }), expect: ['pools[0].seedMinor wrong_type'] },
  {
    name: 'seed beyond 2^53 - 1',
    body: pool({ seedMinor: 2 ** 53 }),
    expect: ['pools[0].seedMinor out_of_range'],
  },
  // shares
  { name: 'contribution 0', body: pool({ contributionPpm: 0 }), expect: 'ok' },
  { name: 'contribution 100 %', body: pool({ contributionPpm: 1_000_000 }), expect: 'ok' },
  {
    name: 'contribution above 100 %',
    body: pool({ contributionPpm: 1_000_001 }),
    expect: ['pools[0].contributionPpm out_of_range'],
  },
  {
    name: 'contribution negative',
    body: pool({ contributionPpm: -1 }),
    expect: ['pools[0].contributionPpm out_of_range'],
  },
  {
    name: 'contribution missing',
    body: body({ pools: [without('contributionPpm', { ...POOL })] }),
    expect: ['pools[0].contributionPpm missing_field'],
  },
  {
    name: 'reserve above 100 %',
    body: pool({ reservePpm: 1_000_001 }),
    expect: ['pools[0].reservePpm out_of_range'],
  },
  {
    name: 'contribution + reserve = 100 %',
    body: pool({ contributionPpm: 600_000, reservePpm: 400_000 }),
    expect: 'ok',
  },
  {
    name: 'contribution + reserve above 100 %',
    body: pool({ contributionPpm: 600_000, reservePpm: 400_001 }),
    expect: ['pools[0].reservePpm inconsistent'],
  },
  // ceiling and overflow
  {
    name: 'ceiling with reserve overflow',
    body: pool({ ceilingMinor: 5000, overflow: 'reserve' }),
    expect: 'ok',
  },
  {
    name: 'ceiling equal to the seed',
    body: pool({ ceilingMinor: 1000, overflow: 'next-cycle' }),
    expect: 'ok',
  },
  {
    name: 'ceiling below the seed',
    body: pool({ ceilingMinor: 999, overflow: 'reserve' }),
    expect: ['pools[0].ceilingMinor inconsistent'],
  },
  {
    name: 'ceiling 0',
    body: pool({ seedMinor: 0, ceilingMinor: 0, overflow: 'reserve' }),
    expect: ['pools[0].ceilingMinor out_of_range'],
  },
  {
    name: 'ceiling without overflow',
    body: pool({ ceilingMinor: 5000 }),
    expect: ['pools[0].overflow missing_field'],
  },
  {
    name: 'overflow without ceiling',
    body: pool({ overflow: 'reserve' }),
    expect: ['pools[0].overflow inconsistent'],
  },
  {
    name: 'unknown overflow policy',
    body: pool({ ceilingMinor: 5000, overflow: 'drop' }),
    expect: ['pools[0].overflow invalid_format'],
  },
  // must hit by
  { name: 'must-hit-by above the seed', body: pool({ mustHitByMinor: 1001 }), expect: 'ok' },
  {
    name: 'must-hit-by equal to the seed',
    body: pool({ mustHitByMinor: 1000 }),
    expect: ['pools[0].mustHitByMinor inconsistent'],
  },
  {
    name: 'must-hit-by equal to the ceiling',
    body: pool({ ceilingMinor: 5000, overflow: 'reserve', mustHitByMinor: 5000 }),
    expect: 'ok',
  },
  {
    name: 'must-hit-by above the ceiling',
    body: pool({ ceilingMinor: 5000, overflow: 'reserve', mustHitByMinor: 5001 }),
    expect: ['pools[0].mustHitByMinor inconsistent'],
  },
  // games
  { name: 'no games', body: body({ games: [] }), expect: 'ok' },
  { name: 'games missing', body: without('games', body({})), expect: ['games missing_field'] },
  { name: 'games a string', body: body({ games: 'starburst-eu' }), expect: ['games wrong_type'] },
  { name: 'game id with colons and dots', body: body({ games: ['net.ent:starburst-eu_1'] }), expect: 'ok' },
  {
    name: 'game id of 65 characters',
    body: body({ games: ['g'.repeat(65)] }),
    expect: ['games[0] invalid_format'],
  },
  {
    name: 'game id with a space',
    body: body({ games: ['star burst'] }),
    expect: ['games[0] invalid_format'],
  },
  { name: 'game id a number', body: body({ games: [1] }), expect: ['games[0] wrong_type'] },
  { name: 'duplicate game', body: body({ games: ['a', 'b', 'a'] }), expect: ['games[2] duplicate'] },
  {
    name: `${MAX_GAMES + 1} games`,
    body: body({ games: Array.from({ length: MAX_GAMES + 1 }, (_, i) => `g${i}`) }),
    expect: ['games too_many'],
  },
  // several problems are all reported, in order
  {
    name: 'every problem at once',
    jackpotId: 'bad id',
    body: {
      currency: 'eu',
      pools: [
        { tier: 'mini', seedMinor: -5, contributionPpm: 2_000_000 },
        { tier: 'mini', seedMinor: 1, contributionPpm: 1 },
      ],
      games: ['ok', ''],
    },
    expect: [
      'jackpotId invalid_format',
      'currency invalid_format',
      'pools[0].seedMinor out_of_range',
      'pools[0].contributionPpm out_of_range',
      'pools[1].tier duplicate',
      'games[1] invalid_format',
    ],
  },
];

for (const c of CASES) {
  void test(`validateJackpotConfig: ${c.name} → ${c.expect === 'ok' ? 'ok' : c.expect.join(', ')}`, () => {
    const result = validateJackpotConfig(c.jackpotId ?? 'jp', c.body);
    if (c.expect === 'ok') {
      assert.equal(result.ok, true, result.ok ? '' : JSON.stringify(result.details));
      return;
    }
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.details.map((d) => `${d.path} ${d.code}`),
      c.expect,
    );
    for (const d of result.details) assert.ok(d.message.length > 0 && d.message.length < 300, d.message);
  });
}

void test('codes are from the closed set', () => {
  const codes: readonly ConfigIssueCode[] = [
    'not_an_object',
    'missing_field',
    'unknown_field',
    'wrong_type',
    'invalid_format',
    'out_of_range',
    'empty',
    'too_many',
    'duplicate',
    'inconsistent',
  ];
  for (const c of CASES) {
    const result = validateJackpotConfig(c.jackpotId ?? 'jp', c.body);
    if (!result.ok) for (const d of result.details) assert.ok(codes.includes(d.code), d.code);
  }
});

void test('a long value is quoted short in the message', () => {
  const result = validateJackpotConfig('x'.repeat(10_000), BODY);
  assert.equal(result.ok, false);
  if (!result.ok) assert.ok((result.details[0]?.message.length ?? 0) < 200);
});

void test('inherited properties are not fields', () => {
  const proto = { currency: 'EUR', pools: [POOL], games: [] };
  const result = validateJackpotConfig('jp', Object.create(proto) as unknown);
  assert.equal(result.ok, false);
  if (!result.ok)
    assert.deepEqual(
      result.details.map((d) => d.code),
      ['missing_field', 'missing_field', 'missing_field'],
    );
});
