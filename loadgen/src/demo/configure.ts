/**
 * The demo's configuration: the jackpots it runs on, and how it puts them in place through the
 * gateway's admin API (the product's own path), idempotently: a re-run on the same database reuses
 * what is there.
 */
import type pg from 'pg';
import type { JackpotRequest } from '../../../shared/src/domain/jackpot-config.js';
import { AppError } from '../../../shared/src/errors.js';
import { errorText, request } from './http.js';

/** The body of `PUT /v1/admin/jackpots/{jackpotId}`, with the id beside it. */
export type JackpotPut = JackpotRequest;

const gameIds = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

/** The probe jackpot's ids are loadgen's defaults (`runLoad`'s probe settings). */
const PROBE_JACKPOT_ID = 'probe';

export function demoJackpots(): JackpotPut[] {
  return [
    {
      jackpotId: 'demo-eu',
      currency: 'EUR',
      pools: [
        { tier: 'mini', seedMinor: 1_000, contributionPpm: 10_000 },
        { tier: 'minor', seedMinor: 10_000, contributionPpm: 5_000 },
        { tier: 'major', seedMinor: 100_000, contributionPpm: 2_500, reservePpm: 500 },
        {
          tier: 'grand',
          seedMinor: 1_000_000,
          contributionPpm: 1_000,
          ceilingMinor: 5_000_000,
          overflow: 'reserve',
        },
      ],
      games: gameIds('demo-eu', 20),
    },
    {
      jackpotId: 'demo-fast',
      currency: 'EUR',
      // A mystery pool that hits many times a second under the demo's load (~6 minor units a
      // wager against a trigger below 2,000): wins, cycles and reseeds are exercised hard.
      pools: [{ tier: 'mystery', seedMinor: 500, contributionPpm: 20_000, mustHitByMinor: 2_000 }],
      games: gameIds('demo-fast', 10),
    },
    {
      jackpotId: PROBE_JACKPOT_ID,
      currency: 'EUR',
      // 100 %: each 1-minor probe wager raises the pool by exactly one minor unit.
      pools: [{ tier: 'main', seedMinor: 0, contributionPpm: 1_000_000 }],
      games: ['probe-game'],
    },
  ];
}

/**
 * The games to PUT: ours, less those another jackpot holds (the contract refuses to move a game),
 * plus any this jackpot already has (a PUT replaces the links; the demo never unlinks anything).
 */
export function gamesToLink(
  wanted: readonly string[],
  links: readonly { gameId: string; jackpotId: string }[],
  jackpotId: string,
): { games: string[]; elsewhere: { gameId: string; jackpotId: string }[] } {
  const owner = new Map(links.map((l) => [l.gameId, l.jackpotId]));
  const elsewhere = wanted
    .filter((g) => (owner.get(g) ?? jackpotId) !== jackpotId)
    .map((g) => ({ gameId: g, jackpotId: owner.get(g) ?? '' }));
  const games = new Set(wanted.filter((g) => (owner.get(g) ?? jackpotId) === jackpotId));
  for (const l of links) if (l.jackpotId === jackpotId) games.add(l.gameId);
  return { games: [...games].sort(), elsewhere };
}

/**
 * PUTs one jackpot through the gateway's admin API and says what happened. A jackpot that exists
 * with another configuration the contract will not change in place (a removed tier, another
 * currency) is used as it is.
 */
export async function configureJackpot(
  db: pg.Pool,
  ingestUrl: string,
  adminKey: string,
  spec: JackpotPut,
): Promise<string> {
  const url = `${ingestUrl}/v1/admin/jackpots/${encodeURIComponent(spec.jackpotId)}`;
  for (let attempt = 1; ; attempt++) {
    const before = await request('GET', url, adminKey);
    if (before.status !== 200 && before.status !== 404)
      throw new AppError('INTERNAL', `GET ${url} answered ${before.status}: ${errorText(before)}`);
    const links = await db.query<{ game_id: string; jackpot_id: string }>(
      'SELECT game_id, jackpot_id FROM jackpot.games WHERE game_id = ANY($1::text[]) OR jackpot_id = $2',
      [spec.games, spec.jackpotId],
    );
    const { games, elsewhere } = gamesToLink(
      spec.games,
      links.rows.map((r) => ({ gameId: r.game_id, jackpotId: r.jackpot_id })),
      spec.jackpotId,
    );
    const body = { currency: spec.currency, pools: spec.pools, games };
    const put = await request('PUT', url, adminKey, body);
    const skipped =
      elsewhere.length === 0
        ? ''
        : `; ${elsewhere.length} game(s) already linked elsewhere, left there (${elsewhere
            .slice(0, 3)
            .map((g) => `${g.gameId} → ${g.jackpotId}`)
            .join(', ')}${elsewhere.length > 3 ? ', …' : ''})`;
    const shape = `${spec.pools.length} pool(s), ${games.length} game(s)`;
    if (put.status === 200)
      return `${spec.jackpotId}: ${before.status === 404 ? 'created' : 'already there, PUT again (idempotent)'}: ${shape}${skipped}`;
    const code = (put.body as { error?: { code?: unknown } } | null)?.error?.code;
    // A game linked by a concurrent PUT between our read and our write: read again, once.
    if (put.status === 409 && code === 'game_linked_elsewhere' && attempt < 2) continue;
    if (put.status === 409 && before.status === 200)
      return `${spec.jackpotId}: exists with another configuration (${String(code)}); used as it is`;
    throw new AppError('INTERNAL', `PUT ${url} answered ${put.status}: ${errorText(put)}`);
  }
}

/** The pool ids a demo configuration creates (`{jackpotId}:{tier}`). */
export function demoPoolIds(
  specs: readonly { jackpotId: string; pools: readonly { tier: string }[] }[],
): Set<string> {
  return new Set(specs.flatMap((s) => s.pools.map((p) => `${s.jackpotId}:${p.tier}`)));
}
