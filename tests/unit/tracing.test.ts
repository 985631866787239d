/**
 * The pure parts of the trace edges: spreading a window's links evenly, and reading a link back
 * from Kafka headers as kafkajs hands them over (Buffers) through the W3C propagator.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { propagation } from '@opentelemetry/api';
import { core } from '@opentelemetry/sdk-node';
import { linkFromKafkaHeaders, pickEvenly } from '../../shared/src/tracing.js';

void describe('pickEvenly', () => {
  const cases: [items: number[], n: number, picked: number[]][] = [
    [[], 3, []],
    [[1, 2], 3, [1, 2]],
    [[1, 2, 3], 3, [1, 2, 3]],
    [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5, [0, 2, 4, 6, 8]],
    [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, [0, 3, 6]],
    [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 1, [0]],
    [[0, 1, 2], 0, []],
  ];
  for (const [items, n, picked] of cases) {
    void it(`${items.length} items, at most ${n} → ${JSON.stringify(picked)}`, () =>
      assert.deepEqual(pickEvenly(items, n), picked));
  }
});

void describe('linkFromKafkaHeaders', () => {
  before(() => propagation.setGlobalPropagator(new core.W3CTraceContextPropagator()));
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';
  const cases: [
    name: string,
    headers: Record<string, Buffer | string | Buffer[]> | undefined,
    linked: boolean,
  ][] = [
    ['no headers', undefined, false],
    ['no traceparent', { other: Buffer.from('x') }, false],
    ['sampled, as a Buffer', { traceparent: Buffer.from(`00-${traceId}-${spanId}-01`) }, true],
    ['sampled, as a string', { traceparent: `00-${traceId}-${spanId}-01` }, true],
    ['not sampled', { traceparent: Buffer.from(`00-${traceId}-${spanId}-00`) }, false],
    ['malformed', { traceparent: Buffer.from('00-xyz-abc-01') }, false],
    ['all-zero trace id', { traceparent: Buffer.from(`00-${'0'.repeat(32)}-${spanId}-01`) }, false],
  ];
  for (const [name, headers, linked] of cases) {
    void it(`${name} → ${linked ? 'a link' : 'no link'}`, () => {
      const link = linkFromKafkaHeaders(headers, { 'messaging.kafka.offset': 7 });
      assert.equal(link !== undefined, linked);
      if (link !== undefined) {
        assert.equal(link.context.traceId, traceId);
        assert.equal(link.context.spanId, spanId);
        assert.equal(link.context.isRemote, true);
        assert.deepEqual(link.attributes, { 'messaging.kafka.offset': 7 });
      }
    });
  }

  void it('keeps the tracestate', () => {
    const link = linkFromKafkaHeaders({
      traceparent: Buffer.from(`00-${traceId}-${spanId}-01`),
      tracestate: Buffer.from('casino=a1,vendor=b2'),
    });
    assert.equal(link?.context.traceState?.get('casino'), 'a1');
  });
});
