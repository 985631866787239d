/**
 * Claimed wins (POST /v1/wins) at random moments of the stream, so pools change cycle while the
 * faults hit; some claimIds are sent twice, and the second answer must equal the first. A claim
 * that meets an outage is retried with the same claimId until it is answered.
 */
import type { Rng } from '../../loadgen/src/random.js';
import type { Journal } from './journal.js';

export interface ClaimTarget {
  readonly poolId: string;
  readonly gameId: string;
}

export interface ClaimRecord {
  readonly claimId: string;
  readonly poolId: string;
  /** The 200 answer, parsed; null when none came before giving up. */
  answer: { winId: string; cycle: number; amountMinor: number } | null;
  /** Times the claim was sent again on purpose (same claimId). */
  repeats: number;
  readonly problems: string[];
}

/** 120 s: longer than any outage the suite injects; a claim is retried with its claimId until then. */
const RETRY_FOR_MS = 120_000;

async function postClaim(
  gatewayUrl: string,
  apiKey: string,
  body: string,
  aborted: () => boolean,
): Promise<{ status: number; text: string; attempts: number }> {
  const deadline = Date.now() + RETRY_FOR_MS;
  for (let attempt = 1; ; attempt++) {
    let status = 0;
    let text: string;
    try {
      const res = await fetch(`${gatewayUrl}/v1/wins`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      text = e instanceof Error ? e.message : String(e);
    }
    if ((status !== 0 && status < 500 && status !== 429) || Date.now() > deadline || aborted())
      return { status, text, attempts: attempt };
    await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
  }
}

export async function runClaims(opts: {
  readonly gatewayUrl: string;
  readonly apiKey: string;
  readonly targets: readonly ClaimTarget[];
  readonly count: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly rng: Rng;
  readonly journal: Journal;
  readonly aborted: () => boolean;
}): Promise<ClaimRecord[]> {
  const at = Array.from({ length: opts.count }, () => (0.1 + 0.8 * opts.rng.float()) * opts.durationMs).sort(
    (a, b) => a - b,
  );
  const start = Date.now();
  const records: ClaimRecord[] = [];
  const bodies = new Map<string, string>();

  const send = async (rec: ClaimRecord, repeat: boolean): Promise<void> => {
    const body = bodies.get(rec.claimId) ?? '';
    const { status, text, attempts } = await postClaim(opts.gatewayUrl, opts.apiKey, body, opts.aborted);
    const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (status !== 200) {
      rec.problems.push(
        `${repeat ? 'repeat' : 'claim'} answered ${status === 0 ? 'nothing' : status}${retried}: ${text.slice(0, 200)}`,
      );
      opts.journal.say(
        `claim ${rec.claimId} on ${rec.poolId}: ${status === 0 ? 'no answer' : status}${retried}`,
      );
      return;
    }
    const answer = JSON.parse(text) as { winId: string; cycle: number; amountMinor: number };
    if (!repeat || rec.answer === null) {
      rec.answer = { winId: answer.winId, cycle: answer.cycle, amountMinor: answer.amountMinor };
      opts.journal.say(
        `claim ${rec.claimId} on ${rec.poolId}: won ${answer.amountMinor} (cycle ${answer.cycle})${retried}`,
      );
    } else {
      rec.repeats++;
      const same =
        answer.winId === rec.answer.winId &&
        answer.cycle === rec.answer.cycle &&
        answer.amountMinor === rec.answer.amountMinor;
      if (!same)
        rec.problems.push(`the repeat was answered ${text}, the first claim ${JSON.stringify(rec.answer)}`);
      opts.journal.say(
        `claim ${rec.claimId} sent again: ${same ? 'the same answer' : `ANOTHER answer ${text}`}${retried}`,
      );
    }
  };

  const running: Promise<void>[] = [];
  for (const [i, ms] of at.entries()) {
    while (!opts.aborted() && Date.now() < start + ms)
      await new Promise((r) => setTimeout(r, Math.min(200, start + ms - Date.now())));
    if (opts.aborted()) break;
    // Every third claim from the third on repeats an earlier claimId instead of making a new one.
    const earlier = records.filter((r) => r.answer !== null);
    if (earlier.length > 0 && i % 3 === 2) {
      const rec = earlier[opts.rng.below(earlier.length)];
      if (rec !== undefined) {
        running.push(send(rec, true));
        continue;
      }
    }
    const target = opts.targets[i % opts.targets.length];
    if (target === undefined) continue;
    const rec: ClaimRecord = {
      claimId: `chaos-${opts.seed}-${i}`,
      poolId: target.poolId,
      answer: null,
      repeats: 0,
      problems: [],
    };
    bodies.set(
      rec.claimId,
      JSON.stringify({
        claimId: rec.claimId,
        poolId: target.poolId,
        gameId: target.gameId,
        playerId: `winner-${i}`,
      }),
    );
    records.push(rec);
    running.push(send(rec, false));
  }
  await Promise.all(running);
  return records;
}
