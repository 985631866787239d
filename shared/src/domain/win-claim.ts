/**
 * Validation of a win claim (`POST /v1/wins`): `{claimId, poolId, gameId, playerId}`. Pure.
 * The claimId is the game server's idempotency key: the same claimId always gets the same answer.
 */
import { describeValue } from './wager.js';

export interface WinClaim {
  readonly claimId: string;
  readonly poolId: string;
  readonly gameId: string;
  readonly playerId: string;
}

export interface ClaimIssue {
  readonly path: string;
  readonly code: 'missing_field' | 'wrong_type' | 'invalid_value' | 'not_an_object';
  readonly message: string;
}

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,64}$/;
const CLAIM_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const POOL_ID = /^[A-Za-z0-9._-]{1,64}:[A-Za-z0-9._-]{1,32}$/;

const FIELDS: readonly (readonly [keyof WinClaim, RegExp, string])[] = [
  ['claimId', CLAIM_ID, '1 to 128 characters of [A-Za-z0-9._:-]'],
  ['poolId', POOL_ID, '"{jackpotId}:{tier}"'],
  ['gameId', IDENTIFIER, '1 to 64 characters of [A-Za-z0-9._:-]'],
  ['playerId', IDENTIFIER, '1 to 64 characters of [A-Za-z0-9._:-]'],
];

export function validateWinClaim(
  body: unknown,
): { ok: true; claim: WinClaim } | { ok: false; issues: ClaimIssue[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      issues: [
        {
          path: '',
          code: 'not_an_object',
          message: `the body must be a JSON object, got ${describeValue(body)}`,
        },
      ],
    };
  }
  const record = body as Record<string, unknown>;
  const issues: ClaimIssue[] = [];
  const claim: Record<string, string> = {};
  for (const [name, pattern, expected] of FIELDS) {
    const value = record[name];
    if (value === undefined)
      issues.push({ path: name, code: 'missing_field', message: `${name} is required` });
    else if (typeof value !== 'string')
      issues.push({
        path: name,
        code: 'wrong_type',
        message: `${name} must be a string, got ${describeValue(value)}`,
      });
    else if (!pattern.test(value))
      issues.push({
        path: name,
        code: 'invalid_value',
        message: `${name} must be ${expected}, got ${describeValue(value)}`,
      });
    else claim[name] = value;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, claim: claim as unknown as WinClaim };
}
