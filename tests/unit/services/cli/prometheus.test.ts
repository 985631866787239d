import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bucketDelta,
  buckets,
  parsePrometheus,
  quantile,
  sum,
  sumBy,
} from '../../../../services/cli/src/prometheus.js';

const TEXT = `# HELP jackpot_aggregator_wagers_total Wagers consumed, by outcome
# TYPE jackpot_aggregator_wagers_total counter
jackpot_aggregator_wagers_total{outcome="applied",otel_scope_name="aggregator"} 1200 1700000000000
jackpot_aggregator_wagers_total{outcome="dead_letter",otel_scope_name="aggregator"} 3
jackpot_aggregator_batch_phase_duration_sum{phase="copy"} 1.5
jackpot_aggregator_batch_phase_duration_sum{phase="claim"} 0.5
jackpot_aggregator_batch_phase_duration_sum{phase="copy",replica="b"} 0.25
http_server_request_duration_bucket{http_route="/v1/wagers",le="0.005"} 10
http_server_request_duration_bucket{http_route="/v1/wagers",le="0.01"} 90
http_server_request_duration_bucket{http_route="/v1/wagers",le="0.05"} 100
http_server_request_duration_bucket{http_route="/v1/wagers",le="+Inf"} 100
http_server_request_duration_bucket{http_route="/v1/wins",le="0.005"} 5
http_server_request_duration_bucket{http_route="/v1/wins",le="+Inf"} 5
target_info{service_name="a \\"quoted\\" name"} 1
process_memory_usage 83886080
not a sample line
`;

void test('parsePrometheus reads names, labels (escapes included) and values; skips comments and junk', () => {
  const s = parsePrometheus(TEXT);
  assert.equal(s.length, 13);
  assert.deepEqual(s[0], {
    name: 'jackpot_aggregator_wagers_total',
    labels: { outcome: 'applied', otel_scope_name: 'aggregator' },
    value: 1200,
  });
  assert.equal(s.find((x) => x.name === 'target_info')?.labels['service_name'], 'a "quoted" name');
  assert.equal(s.find((x) => x.labels['le'] === '+Inf')?.value, 100);
});

void test('sum, sumBy and buckets select by name and labels', () => {
  const s = parsePrometheus(TEXT);
  assert.equal(sum(s, 'jackpot_aggregator_wagers_total'), 1203);
  assert.equal(sum(s, 'jackpot_aggregator_wagers_total', { outcome: 'applied' }), 1200);
  assert.equal(sum(s, 'no_such_metric'), null);
  assert.equal(sum(s, 'process_memory_usage'), 83886080);
  assert.deepEqual(
    sumBy(s, 'jackpot_aggregator_batch_phase_duration_sum', 'phase'),
    new Map([
      ['copy', 1.75],
      ['claim', 0.5],
    ]),
  );
  assert.deepEqual(
    buckets(s, 'http_server_request_duration', { http_route: '/v1/wagers' }),
    new Map([
      [0.005, 10],
      [0.01, 90],
      [0.05, 100],
      [Infinity, 100],
    ]),
  );
});

void test('quantile interpolates inside the bucket like histogram_quantile', () => {
  const cases: { buckets: [number, number][]; q: number; expect: number | null }[] = [
    // 95th of 100 falls in (0.01, 0.05]: 90 below, 10 inside → 0.01 + 0.04 × 5/10.
    {
      buckets: [
        [0.005, 10],
        [0.01, 90],
        [0.05, 100],
        [Infinity, 100],
      ],
      q: 0.95,
      expect: 0.03,
    },
    {
      buckets: [
        [0.005, 10],
        [0.01, 90],
        [0.05, 100],
        [Infinity, 100],
      ],
      q: 0.05,
      expect: 0.0025,
    },
    // Beyond the last finite bound: that bound.
    {
      buckets: [
        [0.005, 0],
        [0.01, 0],
        [Infinity, 10],
      ],
      q: 0.95,
      expect: 0.01,
    },
    {
      buckets: [
        [0.005, 0],
        [Infinity, 0],
      ],
      q: 0.95,
      expect: null,
    },
  ];
  for (const c of cases) {
    const got = quantile(c.q, new Map(c.buckets));
    if (c.expect === null) assert.equal(got, null);
    else assert.ok(Math.abs((got ?? NaN) - c.expect) < 1e-12, `${JSON.stringify(c)} → ${got}`);
  }
});

void test('bucketDelta is what was observed between two scrapes', () => {
  const before = new Map([
    [0.01, 50],
    [Infinity, 60],
  ]);
  const after = new Map([
    [0.01, 80],
    [Infinity, 100],
  ]);
  assert.deepEqual(
    bucketDelta(before, after),
    new Map([
      [0.01, 30],
      [Infinity, 40],
    ]),
  );
});
