/**
 * The operator's jackpot configuration (the body of `PUT /v1/admin/jackpots/{jackpotId}`), checked
 * in full before anything is stored: every problem is reported at once, each with the path of the
 * offending value, a code from a closed set and a message, so an operator fixes a file in one go.
 *
 * Words: a **jackpot** has one currency, one or more **pools** (tiers), and the **games** whose
 * wagers feed it. A pool's **seed** is its reset value; `contributionPpm` is the visible share of
 * each wager and `reservePpm` the hidden share that funds the next seed (parts per million); the
 * optional **ceiling** caps the visible amount, and what would pass it goes by the **overflow**
 * policy (`reserve`: into the reserve; `next-cycle`: carried into the next cycle); the optional
 * **must-hit-by** amount makes a mystery pool that pays out at a hidden amount below it.
 */

import { describeValue } from './wager.js';

export type OverflowPolicy = 'reserve' | 'next-cycle';
const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['reserve', 'next-cycle'];

export interface PoolConfig {
  /** `${jackpotId}:${tier}`. */
  readonly poolId: string;
  readonly tier: string;
  readonly seedMinor: number;
  readonly contributionPpm: number;
  readonly reservePpm: number;
  /** Set together with `overflow`, or both null. */
  readonly ceilingMinor: number | null;
  readonly overflow: OverflowPolicy | null;
  readonly mustHitByMinor: number | null;
}

export interface JackpotConfig {
  readonly jackpotId: string;
  readonly currency: string;
  readonly pools: readonly PoolConfig[];
  /** The games linked to this jackpot, in the order given, without duplicates. */
  readonly games: readonly string[];
}

/**
 * A jackpot as a client writes it (the admin API's body, with the id beside it): optional fields
 * absent rather than null. What the demo, the tests and the chaos suite configure.
 */
export interface JackpotRequest {
  readonly jackpotId: string;
  readonly currency: string;
  readonly pools: readonly PoolRequest[];
  readonly games: readonly string[];
}

export interface PoolRequest {
  readonly tier: string;
  readonly seedMinor: number;
  readonly contributionPpm: number;
  readonly reservePpm?: number;
  readonly ceilingMinor?: number;
  readonly overflow?: OverflowPolicy;
  readonly mustHitByMinor?: number;
}

/** Why a value was refused. A closed set: it is what `error.details[].code` carries. */
export type ConfigIssueCode =
  | 'not_an_object'
  | 'missing_field'
  | 'unknown_field'
  | 'wrong_type'
  | 'invalid_format'
  | 'out_of_range'
  | 'empty'
  | 'too_many'
  | 'duplicate'
  | 'inconsistent';

export interface ConfigIssue {
  /** Where: `""` for the body itself, else such as `currency`, `pools[1].ceilingMinor`, `games[0]`. */
  readonly path: string;
  readonly code: ConfigIssueCode;
  readonly message: string;
}

export type JackpotConfigResult =
  | { readonly ok: true; readonly config: JackpotConfig }
  | { readonly ok: false; readonly details: readonly ConfigIssue[] };

export const JACKPOT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const TIER_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;
const GAME_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;
const PPM_MAX = 1_000_000;
/**
 * 16 tiers: real programs have 2 to 5; the cap bounds the work of one PUT (every pool is a row
 * the aggregator updates for every wager of a linked game).
 */
export const MAX_POOLS = 16;
/** 10,000 games: a large studio's whole catalogue, and still one small transaction. */
export const MAX_GAMES = 10_000;
/**
 * Amounts are JSON numbers: beyond 2^53 − 1 they are no longer exact, so larger values are
 * refused rather than silently rounded. 9e15 minor units is far above any real jackpot.
 */
const MAX_AMOUNT_MINOR = Number.MAX_SAFE_INTEGER;

/**
 * Fields that `GET` returns but an operator does not set. They are accepted and ignored, so the
 * output of a GET can be edited and sent back; `jackpotId` and `poolId` must still agree.
 */
const READ_ONLY_TOP = new Set(['jackpotId', 'createdAt', 'updatedAt']);
const READ_ONLY_POOL = new Set(['poolId', 'current', 'appliesFromCycle']);
const TOP_FIELDS = new Set(['currency', 'pools', 'games']);
const POOL_FIELDS = new Set([
  'tier',
  'seedMinor',
  'contributionPpm',
  'reservePpm',
  'ceilingMinor',
  'overflow',
  'mustHitByMinor',
]);

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: `toString` on the prototype is never a field. */
function get(obj: Fields, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/**
 * Collects issues while walking the body. Unknown fields are refused, not ignored (unlike wagers):
 * a misspelt optional field such as `ceiling` would otherwise silently leave a pool uncapped.
 */
class Checker {
  readonly issues: ConfigIssue[] = [];

  add(path: string, code: ConfigIssueCode, message: string): void {
    this.issues.push({ path, code, message });
  }

  unknownFields(
    obj: Fields,
    prefix: string,
    known: ReadonlySet<string>,
    readOnly: ReadonlySet<string>,
  ): void {
    for (const name of Object.keys(obj)) {
      if (!known.has(name) && !readOnly.has(name)) {
        this.add(
          `${prefix}${name}`,
          'unknown_field',
          `${name} is not a field of ${prefix === '' ? 'a jackpot' : 'a pool'}`,
        );
      }
    }
  }

  /** A string matching `pattern`, or undefined after recording why not. */
  string(obj: Fields, path: string, name: string, pattern: RegExp, what: string): string | undefined {
    const value = get(obj, name);
    if (value === undefined) return void this.add(path, 'missing_field', `${name} is required`);
    if (typeof value !== 'string')
      return void this.add(path, 'wrong_type', `${name} must be a string, got ${describeValue(value)}`);
    if (!pattern.test(value))
      return void this.add(path, 'invalid_format', `${name} must be ${what}, got ${describeValue(value)}`);
    return value;
  }

  /**
   * An integer in [min, max], `null` when absent and optional, undefined after recording why not.
   * An explicit JSON `null` counts as absent for optional fields (what GET writes for "not set").
   */
  integer(
    obj: Fields,
    path: string,
    name: string,
    min: number,
    max: number,
    required: boolean,
  ): number | null | undefined {
    const value = get(obj, name);
    if (value === undefined || (value === null && !required)) {
      return required ? void this.add(path, 'missing_field', `${name} is required`) : null;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return void this.add(path, 'wrong_type', `${name} must be an integer, got ${describeValue(value)}`);
    }
    if (value < min || value > max) {
      return void this.add(path, 'out_of_range', `${name} must be from ${min} to ${max}, got ${value}`);
    }
    return value;
  }
}

function checkPool(c: Checker, value: unknown, index: number, jackpotId: string): PoolConfig | undefined {
  const at = `pools[${index}]`;
  if (!isObject(value))
    return void c.add(at, 'not_an_object', `a pool must be an object, got ${describeValue(value)}`);
  const before = c.issues.length;
  c.unknownFields(value, `${at}.`, POOL_FIELDS, READ_ONLY_POOL);

  const tier = c.string(value, `${at}.tier`, 'tier', TIER_PATTERN, '1 to 32 characters of [A-Za-z0-9._-]');
  const seedMinor = c.integer(value, `${at}.seedMinor`, 'seedMinor', 0, MAX_AMOUNT_MINOR, true);
  const contributionPpm = c.integer(value, `${at}.contributionPpm`, 'contributionPpm', 0, PPM_MAX, true);
  const reservePpm = c.integer(value, `${at}.reservePpm`, 'reservePpm', 0, PPM_MAX, false) ?? 0;
  const ceilingMinor = c.integer(value, `${at}.ceilingMinor`, 'ceilingMinor', 1, MAX_AMOUNT_MINOR, false);
  const mustHitByMinor = c.integer(
    value,
    `${at}.mustHitByMinor`,
    'mustHitByMinor',
    1,
    MAX_AMOUNT_MINOR,
    false,
  );

  let overflow: OverflowPolicy | null | undefined = null;
  const rawOverflow = get(value, 'overflow');
  if (rawOverflow !== undefined && rawOverflow !== null) {
    if (typeof rawOverflow !== 'string' || !(OVERFLOW_POLICIES as readonly string[]).includes(rawOverflow)) {
      overflow = undefined;
      c.add(
        `${at}.overflow`,
        'invalid_format',
        `overflow must be one of ${OVERFLOW_POLICIES.map((p) => JSON.stringify(p)).join(', ')}, got ${describeValue(rawOverflow)}`,
      );
    } else {
      overflow = rawOverflow as OverflowPolicy;
    }
  }

  // Rules between fields, checked only when the fields themselves are valid.
  if (contributionPpm != null && reservePpm != null && contributionPpm + reservePpm > PPM_MAX) {
    c.add(
      `${at}.reservePpm`,
      'inconsistent',
      `contributionPpm + reservePpm must be at most ${PPM_MAX} (100 %), got ${contributionPpm + reservePpm}`,
    );
  }
  if (typeof ceilingMinor === 'number') {
    if (seedMinor != null && ceilingMinor < seedMinor) {
      c.add(
        `${at}.ceilingMinor`,
        'inconsistent',
        `ceilingMinor must be at least seedMinor (${seedMinor}), got ${ceilingMinor}`,
      );
    }
    if (overflow === null) {
      c.add(
        `${at}.overflow`,
        'missing_field',
        `overflow is required with a ceiling: one of ${OVERFLOW_POLICIES.map((p) => JSON.stringify(p)).join(', ')}`,
      );
    }
  } else if (ceilingMinor === null && typeof overflow === 'string') {
    c.add(`${at}.overflow`, 'inconsistent', 'overflow applies only to a pool with ceilingMinor');
  }
  if (typeof mustHitByMinor === 'number') {
    if (seedMinor != null && mustHitByMinor <= seedMinor) {
      c.add(
        `${at}.mustHitByMinor`,
        'inconsistent',
        `mustHitByMinor must be above seedMinor (${seedMinor}), got ${mustHitByMinor}`,
      );
    }
    if (typeof ceilingMinor === 'number' && mustHitByMinor > ceilingMinor) {
      c.add(
        `${at}.mustHitByMinor`,
        'inconsistent',
        `mustHitByMinor must be at most ceilingMinor (${ceilingMinor}), got ${mustHitByMinor}`,
      );
    }
  }

  const poolId = get(value, 'poolId');
  if (tier !== undefined && poolId !== undefined && poolId !== `${jackpotId}:${tier}`) {
    c.add(
      `${at}.poolId`,
      'inconsistent',
      `poolId is "{jackpotId}:{tier}" = ${JSON.stringify(`${jackpotId}:${tier}`)}, got ${describeValue(poolId)}`,
    );
  }

  if (
    c.issues.length > before ||
    tier === undefined ||
    seedMinor == null ||
    contributionPpm == null ||
    ceilingMinor === undefined ||
    overflow === undefined ||
    mustHitByMinor === undefined
  ) {
    return undefined;
  }
  return {
    poolId: `${jackpotId}:${tier}`,
    tier,
    seedMinor,
    contributionPpm,
    reservePpm,
    ceilingMinor,
    overflow,
    mustHitByMinor,
  };
}

/** Checks a PUT body for the jackpot `jackpotId` (from the URL). */
export function validateJackpotConfig(jackpotId: string, body: unknown): JackpotConfigResult {
  const c = new Checker();
  const idOk = JACKPOT_ID_PATTERN.test(jackpotId);
  if (!idOk)
    c.add(
      'jackpotId',
      'invalid_format',
      `jackpotId must be 1 to 64 characters of [A-Za-z0-9._-], got ${describeValue(jackpotId)}`,
    );
  if (!isObject(body)) {
    c.add('', 'not_an_object', `the configuration must be a JSON object, got ${describeValue(body)}`);
    return { ok: false, details: c.issues };
  }
  c.unknownFields(body, '', TOP_FIELDS, READ_ONLY_TOP);
  const bodyId = get(body, 'jackpotId');
  if (bodyId !== undefined && bodyId !== jackpotId) {
    c.add(
      'jackpotId',
      'inconsistent',
      `jackpotId in the body (${describeValue(bodyId)}) differs from the URL's (${describeValue(jackpotId)})`,
    );
  }

  const currency = c.string(
    body,
    'currency',
    'currency',
    CURRENCY_PATTERN,
    'three upper-case letters (ISO 4217)',
  );

  const pools: PoolConfig[] = [];
  const rawPools = get(body, 'pools');
  if (rawPools === undefined) c.add('pools', 'missing_field', 'pools is required');
  else if (!Array.isArray(rawPools))
    c.add('pools', 'wrong_type', `pools must be an array, got ${describeValue(rawPools)}`);
  else if (rawPools.length === 0) c.add('pools', 'empty', 'a jackpot needs at least one pool');
  else if (rawPools.length > MAX_POOLS)
    c.add('pools', 'too_many', `a jackpot has at most ${MAX_POOLS} pools, got ${rawPools.length}`);
  else {
    const firstIndexOfTier = new Map<string, number>();
    rawPools.forEach((raw: unknown, i) => {
      const pool = checkPool(c, raw, i, jackpotId);
      const tier = isObject(raw) ? get(raw, 'tier') : undefined;
      if (typeof tier === 'string') {
        const first = firstIndexOfTier.get(tier);
        if (first !== undefined)
          c.add(`pools[${i}].tier`, 'duplicate', `tier ${JSON.stringify(tier)} is already pools[${first}]`);
        else firstIndexOfTier.set(tier, i);
      }
      if (pool !== undefined) pools.push(pool);
    });
  }

  const games: string[] = [];
  const rawGames = get(body, 'games');
  if (rawGames === undefined)
    c.add('games', 'missing_field', 'games is required (an empty list links no game)');
  else if (!Array.isArray(rawGames))
    c.add('games', 'wrong_type', `games must be an array, got ${describeValue(rawGames)}`);
  else if (rawGames.length > MAX_GAMES)
    c.add('games', 'too_many', `a jackpot has at most ${MAX_GAMES} games, got ${rawGames.length}`);
  else {
    const firstIndexOfGame = new Map<string, number>();
    rawGames.forEach((game: unknown, i) => {
      const at = `games[${i}]`;
      if (typeof game !== 'string')
        return c.add(at, 'wrong_type', `a game id must be a string, got ${describeValue(game)}`);
      if (!GAME_ID_PATTERN.test(game))
        return c.add(
          at,
          'invalid_format',
          `a game id must be 1 to 64 characters of [A-Za-z0-9._:-], got ${describeValue(game)}`,
        );
      const first = firstIndexOfGame.get(game);
      if (first !== undefined)
        return c.add(at, 'duplicate', `game ${JSON.stringify(game)} is already games[${first}]`);
      firstIndexOfGame.set(game, i);
      games.push(game);
    });
  }

  if (c.issues.length > 0 || currency === undefined || !idOk) return { ok: false, details: c.issues };
  return { ok: true, config: { jackpotId, currency, pools, games } };
}
