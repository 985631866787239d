import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  escapeXml,
  linearTicks,
  logTicks,
  niceCeil,
  renderChart,
  shortNumber,
  type ChartPoint,
} from '../../../bench/e2e/chart.js';

void test('niceCeil rounds up to 1, 2, 2.5 or 5 × 10^k', () => {
  const cases: [number, number][] = [
    [1, 1],
    [1.1, 2],
    [2, 2],
    [2.2, 2.5],
    [3, 5],
    [7, 10],
    [42_000, 50_000],
    [50_000, 50_000],
    [0, 1],
    [-5, 1],
    [Number.NaN, 1],
  ];
  for (const [x, want] of cases) assert.equal(niceCeil(x), want, String(x));
});

void test('ticks and labels', () => {
  assert.deepEqual(linearTicks(50_000), [0, 10_000, 20_000, 30_000, 40_000, 50_000]);
  assert.deepEqual(logTicks(12, 3000), [10, 100, 1000, 10_000]);
  assert.deepEqual(logTicks(1, 1000), [1, 10, 100, 1000]);
  const labels: [number, string][] = [
    [250, '250'],
    [1500, '1.5k'],
    [12_000, '12k'],
    [2_500_000, '2.5M'],
    [0, '0'],
  ];
  for (const [x, want] of labels) assert.equal(shortNumber(x), want);
  assert.equal(escapeXml(`a<b & "c" 'd'>`), 'a&#60;b &#38; &#34;c&#34; &#39;d&#39;&#62;');
});

const point = (offered: number | null, sent: number, applied: number, p99: number | null): ChartPoint => ({
  offered,
  sent,
  applied,
  replicas: 2,
  latency: p99 === null ? null : { p50: p99 / 3, p95: p99 / 2, p99 },
});

void test('renderChart draws one marker per step and series, and maximum runs apart', () => {
  const cases: { name: string; points: ChartPoint[]; circles: number; boxes: number; polylines: number }[] = [
    {
      name: 'sweep and a maximum',
      points: [
        point(5000, 5000, 4990, 180),
        point(10_000, 10_000, 9950, 300),
        point(null, 30_000, 24_000, 4000),
      ],
      // 2 throughput circles + 3 latency series × 2 steps; 1 throughput box + 3 latency boxes + legend box.
      circles: 2 + 3 * 2,
      boxes: 1 + 3 + 1,
      polylines: 1 + 3,
    },
    { name: 'no points', points: [], circles: 0, boxes: 1, polylines: 0 },
    {
      name: 'a step without probes draws no latency marker',
      points: [point(5000, 5000, 5000, null)],
      circles: 1,
      boxes: 1,
      polylines: 1,
    },
  ];
  for (const c of cases) {
    const svg = renderChart({ title: 'T <&>', subtitle: 's', points: c.points });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), c.name);
    assert.ok(svg.trimEnd().endsWith('</svg>'), c.name);
    assert.ok(svg.includes('T &#60;&#38;&#62;'), `${c.name}: title escaped`);
    assert.equal(svg.match(/<circle /g)?.length ?? 0, c.circles, `${c.name}: circles`);
    // Boxes: rect elements less the background and the two panel frames.
    assert.equal((svg.match(/<rect /g)?.length ?? 0) - 3, c.boxes, `${c.name}: boxes`);
    assert.equal(svg.match(/<polyline /g)?.length ?? 0, c.polylines, `${c.name}: polylines`);
    assert.ok(!/NaN|Infinity|undefined/.test(svg), `${c.name}: every coordinate is a number`);
  }
});

void test('renderChart puts a higher throughput higher and a longer latency lower on the page', () => {
  const svg = renderChart({
    title: 't',
    subtitle: 's',
    points: [point(1000, 1000, 1000, 100), point(2000, 2000, 2000, 1000)],
  });
  const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="4"/g)].map((m) => Number(m[1]));
  assert.equal(ys.length, 2);
  assert.ok((ys[1] ?? 0) < (ys[0] ?? 0), 'throughput 2000 above 1000');
  const p99 = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="3" fill="#c92a2a"/g)].map((m) =>
    Number(m[1]),
  );
  assert.equal(p99.length, 2);
  assert.ok((p99[1] ?? 0) < (p99[0] ?? 0), '1000 ms above 100 ms');
});
