import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOPICS } from '../../../shared/src/kafka.js';
import {
  DEAD_LETTER_SCHEMA_VERSION,
  deadLetterRecord,
  decodeDeadLetter,
  type DeadLetterMessage,
  type WireHeaders,
} from '../../../shared/src/messages/dead-letter.js';

const letter: DeadLetterMessage = {
  id: '42',
  reason: 'malformed_json',
  key: Buffer.from('p-1'),
  payload: Buffer.from('{"eventId": nope'),
};

void test('dead letter: the version is the topic name’s', () => {
  assert.ok(TOPICS.wagersDlq.endsWith(`.v${DEAD_LETTER_SCHEMA_VERSION}`));
});

void test('deadLetterRecord keeps the original key and bytes and adds the two headers', () => {
  assert.deepEqual(deadLetterRecord(letter), {
    key: letter.key,
    value: letter.payload,
    headers: { 'x-dlq-reason': 'malformed_json', 'x-dead-letter-id': '42' },
  });
});

void test('decodeDeadLetter reads what deadLetterRecord writes, headers as kafkajs gives them (bytes)', () => {
  const r = deadLetterRecord(letter);
  const asRead = {
    key: r.key,
    value: r.value,
    headers: { 'x-dlq-reason': Buffer.from('malformed_json'), 'x-dead-letter-id': Buffer.from('42') },
  };
  assert.deepEqual(decodeDeadLetter(asRead), { ok: true, message: letter });
  assert.deepEqual(decodeDeadLetter(r), { ok: true, message: letter }, 'or as text');
  const tombstone = decodeDeadLetter({
    key: null,
    value: null,
    headers: { 'x-dlq-reason': 'empty_payload', 'x-dead-letter-id': '7' },
  });
  assert.ok(tombstone.ok);
  assert.equal(tombstone.message.payload.length, 0, 'no value is zero bytes');
});

void test('decodeDeadLetter refuses bad headers', () => {
  const table: Array<[string, WireHeaders | undefined]> = [
    ['no headers', undefined],
    ['no reason', { 'x-dead-letter-id': '1' }],
    ['an unknown reason', { 'x-dlq-reason': 'bad_vibes', 'x-dead-letter-id': '1' }],
    ['a repeated reason', { 'x-dlq-reason': ['malformed_json', 'wrong_type'], 'x-dead-letter-id': '1' }],
    ['no id', { 'x-dlq-reason': 'malformed_json' }],
    ['id 0', { 'x-dlq-reason': 'malformed_json', 'x-dead-letter-id': '0' }],
    ['id not a number', { 'x-dlq-reason': 'malformed_json', 'x-dead-letter-id': 'abc' }],
    ['id negative', { 'x-dlq-reason': 'malformed_json', 'x-dead-letter-id': '-3' }],
  ];
  for (const [name, headers] of table) {
    const r = decodeDeadLetter({
      key: null,
      value: Buffer.from('x'),
      ...(headers === undefined ? {} : { headers }),
    });
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.ok(r.reason.length > 0, name);
  }
});
