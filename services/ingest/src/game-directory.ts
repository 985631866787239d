/**
 * Which jackpot each game belongs to (`jackpot.games`), for checking a scoped key's wagers. The
 * whole table is read at once and reused for `ttlMs`: one query per few seconds per gateway,
 * whatever the traffic and whatever game ids a caller makes up, instead of one per wager. A
 * catalogue is thousands of games, tens of kilobytes.
 *
 * The price is staleness: a game linked or moved in the last `ttlMs` is judged by its old link.
 * The aggregator always books by the committed link, so the worst case is that a wager for a game
 * linked moments ago to a jackpot outside the key's scope still reaches that jackpot, once, within
 * that window. Keys with all jackpots never read this.
 */
export interface GameDirectory {
  /** game id → jackpot id, at most `ttlMs` old. Rejects when the database fails. */
  jackpotsByGame(): Promise<ReadonlyMap<string, string>>;
}

export function createGameDirectory(opts: {
  load: () => Promise<ReadonlyMap<string, string>>;
  ttlMs: number;
  now?: () => number;
}): GameDirectory {
  const now = opts.now ?? Date.now;
  let snapshot: { games: ReadonlyMap<string, string>; loadedAtMs: number } | undefined;
  let loading: Promise<ReadonlyMap<string, string>> | undefined;
  return {
    jackpotsByGame() {
      if (snapshot !== undefined && now() - snapshot.loadedAtMs < opts.ttlMs)
        return Promise.resolve(snapshot.games);
      if (loading === undefined) {
        // Counted from the start of the read, like the key cache: the rows are at least this fresh.
        const startedMs = now();
        loading = opts.load().then(
          (games) => {
            snapshot = { games, loadedAtMs: startedMs };
            loading = undefined;
            return games;
          },
          (e: unknown) => {
            loading = undefined;
            throw e;
          },
        );
      }
      return loading;
    },
  };
}
