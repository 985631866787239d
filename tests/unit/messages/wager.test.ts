import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOPICS } from '../../../shared/src/kafka.js';
import {
  encodeWager,
  parseWager,
  WAGER_SCHEMA_VERSION,
  wagerRecord,
  type WagerMessage,
} from '../../../shared/src/messages/wager.js';
import { CONTRACT_WAGER } from '../../helpers/contract-wager.js';

const NOW = Date.parse('2026-11-29T12:00:10Z');
const wager: WagerMessage = CONTRACT_WAGER;

void test('wager: the version is the topic name’s', () => {
  assert.ok(TOPICS.wagers.endsWith(`.v${WAGER_SCHEMA_VERSION}`));
});

void test('encodeWager writes the contract’s fields only, in its order; the record is keyed by player', () => {
  const text = encodeWager({ ...wager, secret: 'x' } as WagerMessage).toString('utf8');
  assert.equal(text, JSON.stringify(wager));
  assert.deepEqual(wagerRecord(wager), { key: 'p-12345', value: Buffer.from(JSON.stringify(wager)) });
});

void test('parseWager (the reading side, from the domain) reads what encodeWager writes', () => {
  const r = parseWager(encodeWager(wager), NOW);
  assert.ok(r.ok);
  assert.deepEqual({ ...r.wager, occurredAtMs: undefined }, { ...wager, occurredAtMs: undefined });
  const table: Array<[string, Uint8Array | null, string]> = [
    ['a tombstone', null, 'empty_payload'],
    ['not UTF-8', Uint8Array.from([0xff]), 'invalid_utf8'],
    ['not JSON', Buffer.from('{'), 'malformed_json'],
    ['amount 0', encodeWager({ ...wager, amountMinor: 0 }), 'amount_out_of_range'],
  ];
  for (const [name, payload, reason] of table) {
    const bad = parseWager(payload, NOW);
    assert.equal(bad.ok ? 'ok' : bad.reason, reason, name);
  }
});
