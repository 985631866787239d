/**
 * The SSE hub against responses whose reader the test controls: a Writable with a 1 KiB
 * high-water mark stands in for the socket, so "the client stopped reading" is exact instead of
 * depending on the kernel's buffer sizes.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Meter } from '@opentelemetry/api';
import { createLogger } from '../../../../shared/src/logger.js';
import { createProjectorMetrics } from '../../../../services/projector/src/metrics.js';
import { createSseHub, type SseHub } from '../../../../services/projector/src/sse.js';
import { createPoolStore, type PoolStore } from '../../../../services/projector/src/store.js';
import { poolView } from '../../../helpers/pool-view.js';

const HIGH_WATER_MARK = 1024;

class FakeResponse extends Writable {
  status = 0;
  received = '';
  private reading = true;
  private held: Array<() => void> = [];

  constructor() {
    super({ highWaterMark: HIGH_WATER_MARK, decodeStrings: false });
  }

  writeHead(status: number): this {
    this.status = status;
    return this;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    const take = () => {
      this.received += String(chunk);
      callback();
    };
    if (this.reading) take();
    else this.held.push(take);
  }

  stopReading(): void {
    this.reading = false;
  }

  startReading(): void {
    this.reading = true;
    const held = this.held;
    this.held = [];
    for (const take of held) take();
  }

  /** `[poolId, version, amountMinor]` of every pool event received, in order. */
  events(): Array<[string, number, number]> {
    return [...this.received.matchAll(/^data: (.*)$/gm)].map((m) => {
      const p = JSON.parse(m[1] ?? 'null') as { poolId: string; version: number; amountMinor: number };
      return [p.poolId, p.version, p.amountMinor];
    });
  }
}

function countingMeter(): { meter: Meter; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const instrument = (name: string) => ({
    add: (n: number) => counts.set(name, (counts.get(name) ?? 0) + n),
    record: () => undefined,
  });
  const meter = {
    createCounter: instrument,
    createUpDownCounter: instrument,
    createHistogram: instrument,
  } as unknown as Meter;
  return { meter, counts };
}

function setup(opts: { maxClients?: number; stallMs?: number } = {}) {
  const store: PoolStore = createPoolStore();
  store.resync(poolView('demo:grand', 1, 1_000n), store.readMark());
  store.resync(poolView('demo:mini', 1, 10n), store.readMark());
  const { meter, counts } = countingMeter();
  let clock = 1_000_000;
  const hub: SseHub = createSseHub({
    store,
    heartbeatMs: 10,
    maxClients: opts.maxClients ?? 100,
    stallMs: opts.stallMs ?? 60_000,
    logger: createLogger('sse-test', 'silent'),
    metrics: createProjectorMetrics(meter),
    now: () => clock,
  });
  const open = (): FakeResponse => {
    const res = new FakeResponse();
    hub.open(res as unknown as ServerResponse);
    return res;
  };
  const change = (poolId: string, version: number, amountMinor: bigint) =>
    store.apply({
      poolId,
      jackpotId: 'demo',
      amountMinor,
      cycle: 1,
      version,
      updatedAt: '2026-11-29T12:00:01.000Z',
    });
  return {
    store,
    hub,
    counts,
    open,
    change,
    advance: (ms: number) => (clock += ms),
    close: () => {
      hub.closeAll();
      store.close();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void test('a client that reads gets the state, then every change', () => {
  const s = setup();
  try {
    const res = s.open();
    assert.equal(res.status, 200);
    for (let v = 2; v <= 6; v++) s.change('demo:mini', v, BigInt(v * 10));
    assert.deepEqual(res.events(), [
      ['demo:grand', 1, 1000],
      ['demo:mini', 1, 10],
      ['demo:mini', 2, 20],
      ['demo:mini', 3, 30],
      ['demo:mini', 4, 40],
      ['demo:mini', 5, 50],
      ['demo:mini', 6, 60],
    ]);
  } finally {
    s.close();
  }
});

void test('a client that stops reading holds about one buffer, and gets the latest state per pool when it reads again', async () => {
  const s = setup();
  try {
    const slow = s.open();
    const fast = s.open();
    slow.stopReading();
    let maxBuffered = 0;
    for (let v = 2; v <= 1_000; v++) {
      s.change(v % 3 === 0 ? 'demo:grand' : 'demo:mini', v, BigInt(v));
      maxBuffered = Math.max(maxBuffered, slow.writableLength);
    }
    const oneEvent = 200;
    assert.ok(maxBuffered <= HIGH_WATER_MARK + oneEvent, `buffered ${maxBuffered} bytes at most`);
    assert.equal(fast.events().length, 2 + 999, 'a client that reads still gets every change');
    assert.ok((s.counts.get('projector.sse.events.coalesced') ?? 0) > 900);

    slow.startReading();
    await sleep(5);
    const got = slow.events();
    assert.ok(got.length < 20, `${got.length} events instead of ~1,000`);
    const last = new Map(got.map(([poolId, version, amount]) => [poolId, [version, amount]]));
    assert.deepEqual(last.get('demo:grand'), [999, 999], 'the latest grand');
    assert.deepEqual(last.get('demo:mini'), [1_000, 1_000], 'the latest mini');
    for (const poolId of ['demo:grand', 'demo:mini']) {
      const versions = got.filter(([p]) => p === poolId).map(([, v]) => v);
      assert.deepEqual(
        versions,
        [...versions].sort((a, b) => a - b),
        `${poolId} never goes back`,
      );
    }

    // Caught up: changes flow one by one again.
    s.change('demo:mini', 1_001, 1_001n);
    assert.deepEqual(slow.events().at(-1), ['demo:mini', 1_001, 1_001]);
    assert.equal(s.hub.size(), 2);
  } finally {
    s.close();
  }
});

void test('a client that reads nothing for stallMs is dropped and frees its slot', async () => {
  const s = setup({ stallMs: 60_000 });
  try {
    const stuck = s.open();
    const fine = s.open();
    stuck.stopReading();
    for (let v = 2; v <= 50; v++) s.change('demo:mini', v, BigInt(v));
    s.advance(59_000);
    await sleep(40);
    assert.equal(s.hub.size(), 2, 'not yet');
    s.advance(1_000);
    await sleep(40);
    assert.equal(s.hub.size(), 1);
    assert.ok(stuck.destroyed);
    assert.ok(!fine.destroyed);
    assert.equal(s.counts.get('projector.sse.clients.dropped'), 1);
    assert.equal(s.counts.get('projector.sse.clients'), 1, 'the open-streams gauge follows');
    assert.ok(fine.received.includes(': heartbeat'), 'a reading client gets heartbeats');
  } finally {
    s.close();
  }
});

void test('admit refuses past maxClients, counts it, and admits again when a stream closes', async () => {
  const s = setup({ maxClients: 2 });
  try {
    assert.equal(s.hub.admit(), null);
    const first = s.open();
    assert.equal(s.hub.admit(), null);
    s.open();
    const refusal = s.hub.admit();
    assert.ok(refusal !== null);
    assert.ok(refusal.retryAfterSeconds >= 1);
    assert.match(refusal.message, /at most 2 streams/);
    assert.equal(s.counts.get('projector.sse.clients.refused'), 1);
    first.destroy();
    await sleep(5);
    assert.equal(s.hub.admit(), null);
  } finally {
    s.close();
  }
});
