import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHistogram } from '../../../loadgen/src/histogram.js';
import { createRng } from '../../../loadgen/src/random.js';

void test('percentiles are within 1 % of the exact ones', () => {
  const h = createHistogram();
  const rng = createRng(9);
  const xs: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const x = Math.exp(rng.normal() * 2); // 0.0x ms to hundreds of ms
    xs.push(x);
    h.record(x);
  }
  xs.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.95, 0.99]) {
    const exact = xs[Math.ceil(q * xs.length) - 1] ?? 0;
    const got = h.quantile(q);
    assert.ok(Math.abs(got - exact) / exact <= 0.0101, `q${q}: ${got} vs ${exact}`);
  }
  assert.equal(h.percentiles().max, xs[xs.length - 1]);
  assert.equal(h.count, 50_000);
});

void test('empty is zero; odd inputs do not throw', () => {
  const h = createHistogram();
  assert.deepEqual(h.percentiles(), { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 });
  h.record(0);
  h.record(-1);
  h.record(Number.NaN);
  h.record(1e9);
  assert.equal(h.count, 4);
  assert.ok(h.quantile(0.5) <= 0.001);
  assert.equal(h.quantile(1), 1e9);
});
