/**
 * The live jackpot page (GET / on the projector) in a real browser: Debian's chromium driven by
 * playwright-core, against the whole pipeline as real processes. While wagers flow through the
 * gateway, a displayed amount must increase; a claim must appear among the recent wins; the
 * throughput chart must show the flow. A screenshot goes to tests/artifacts/live-page.png.
 *
 * Without chromium the test is skipped with a message, except under CI, where it fails: .ci/run
 * installs chromium, so a missing one there is a broken install, not a choice.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, wager } from '../helpers/fixtures.js';
import { randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess } from '../helpers/processes.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const missing = !existsSync(CHROMIUM);
const db = await createTestDatabase();
const skip =
  missing && !process.env['CI']
    ? `no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); CI fails here instead`
    : false;

void test(
  'the live page shows amounts rising as wagers arrive, and a claimed win',
  { skip, timeout: 240_000 },
  async () => {
    assert.ok(
      !missing,
      `no chromium at ${CHROMIUM}: .ci/run should have installed it (apt-get install chromium)`,
    );
    const topics = {
      AGGREGATOR_TOPIC: await randomTopic('page-wagers', 3),
      POOL_UPDATES_TOPIC: await randomTopic('page-updates', 1),
      DLQ_TOPIC: await randomTopic('page-dlq', 1),
      AWARDS_TOPIC: await randomTopic('page-awards', 1),
    };
    const env = {
      DATABASE_URL: db.url,
      ...topics,
      INGEST_TOPIC: topics.AGGREGATOR_TOPIC,
      PROJECTOR_TOPIC: topics.POOL_UPDATES_TOPIC,
      AGGREGATOR_GROUP_ID: randomGroupId('page'),
      AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    };
    const procs = await Promise.all([
      startServiceProcess('ingest', env),
      startServiceProcess('projector', env),
      startServiceProcess('aggregator', env),
    ]);
    const [ingest, projector] = procs;
    await Promise.all(procs.map((p) => p.waitReady(90_000)));
    const gateway = `http://127.0.0.1:${ingest.port}`;
    const pageUrl = `http://127.0.0.1:${projector.port}/`;

    const admin = (await createApiKey(db.pool, { role: 'admin', name: 'page-admin' })).key;
    const game = (
      await createApiKey(db.pool, { role: 'game', name: 'page-game', jackpots: ['page-eu', 'page-jp'] })
    ).key;
    const jackpots = {
      'page-eu': {
        currency: 'EUR',
        pools: [
          { tier: 'mini', seedMinor: 1_000, contributionPpm: 20_000 },
          { tier: 'major', seedMinor: 50_000, contributionPpm: 5_000, reservePpm: 1_000 },
          { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 1_000 },
        ],
        games: ['page-slot-1', 'page-slot-2'],
      },
      // Yen have no minor unit: 1,000 minor units are ¥1,000, not ¥10.00.
      'page-jp': {
        currency: 'JPY',
        pools: [{ tier: 'main', seedMinor: 100_000, contributionPpm: 10_000 }],
        games: ['page-jp-1'],
      },
    };
    for (const [id, body] of Object.entries(jackpots)) {
      const res = await fetch(`${gateway}/v1/admin/jackpots/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, await res.text());
    }

    // Wagers through the gateway, a batch every 200 ms, until the end of the test.
    let flowing = true;
    let sent = 0;
    const flow = (async () => {
      for (let i = 0; flowing; i++) {
        const wagers = Array.from({ length: 50 }, (_, k) =>
          k % 5 === 0
            ? wager({
                gameId: 'page-jp-1',
                currency: 'JPY',
                playerId: `jp-${k}`,
                amountMinor: 100 + ((i * 31 + k) % 400),
              })
            : wager({
                gameId: k % 2 === 0 ? 'page-slot-1' : 'page-slot-2',
                playerId: `player-${k}`,
                amountMinor: 50 + ((i * 17 + k * 13) % 2_000),
              }),
        );
        const res = await fetch(`${gateway}/v1/wagers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${game}`, 'content-type': 'application/json' },
          body: JSON.stringify({ wagers }),
        });
        assert.equal(res.status, 202, await res.text());
        sent += wagers.length;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const response = await page.goto(pageUrl);
      assert.equal(response?.status(), 200);
      assert.match(response?.headers()['content-type'] ?? '', /^text\/html/);

      // Every jackpot with its pools, amounts formatted with the currency's digits.
      const mini = page.locator('.amount[data-pool-id="page-eu:mini"]');
      await mini.waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('.card').count(), 2, 'one card a jackpot');
      assert.equal(await page.locator('.amount').count(), 4, 'one amount a pool');
      const jpText = (await page.locator('.amount[data-pool-id="page-jp:main"]').textContent()) ?? '';
      assert.match(jpText, /[¥￥]\s?\d{1,3}(,\d{3})+$/, `a yen amount has no decimals: ${jpText}`);

      // A displayed amount increases while the page is open, through the stream (no reload).
      const first = Number(await mini.getAttribute('data-amount-minor'));
      const firstText = await mini.textContent();
      assert.ok(
        await eventually(
          async () => Number(await mini.getAttribute('data-amount-minor')) > first,
          30_000,
          200,
        ),
        `page-eu:mini stays at ${first} after ${sent} wagers`,
      );
      assert.ok(
        await eventually(async () => (await mini.textContent()) !== firstText, 5_000, 100),
        'the displayed text moves too',
      );
      const shown = Number(await mini.getAttribute('data-amount-minor'));
      const euro = (await mini.textContent()) ?? '';
      await eventually(async () => /€\s?[\d,]+\.\d{2}$/.test((await mini.textContent()) ?? ''), 3_000, 100);
      assert.match(
        (await mini.textContent()) ?? '',
        /€\s?[\d,]+\.\d{2}$/,
        `a euro amount has two decimals: ${euro}`,
      );
      assert.ok(shown > first);

      // A claim appears among the recent wins, without the player's id.
      const claim = await fetch(`${gateway}/v1/wins`, {
        method: 'POST',
        headers: { authorization: `Bearer ${game}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          claimId: 'page-claim-1',
          poolId: 'page-eu:major',
          gameId: 'page-slot-1',
          playerId: 'secret-player-42',
        }),
      });
      const claimText = await claim.text();
      assert.equal(claim.status, 200, claimText);
      const win = JSON.parse(claimText) as { winId: string; amountMinor: number; cycle: number };
      const row = page.locator(`#wins li[data-win-id="${win.winId}"]`);
      await row.waitFor({ timeout: 15_000 });
      const rowText = (await row.textContent()) ?? '';
      assert.match(rowText, /page-eu · major/);
      assert.match(rowText, /claim/);
      assert.match(rowText, /page-slot-1/);
      assert.match(
        rowText,
        new RegExp(`€\\s?${(win.amountMinor / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`),
        rowText,
      );
      assert.doesNotMatch(
        await page.locator('body').innerText(),
        /secret-player-42/,
        'no player id on the public page',
      );
      const recent = (await (await fetch(`${pageUrl}v1/wins/recent`)).json()) as Record<string, unknown>[];
      assert.deepEqual(Object.keys(recent[0] ?? {}).sort(), [
        'amountMinor',
        'currency',
        'cycle',
        'gameId',
        'jackpotId',
        'kind',
        'poolId',
        'tier',
        'winId',
        'wonAt',
      ]);
      // The won pool starts its next cycle on the page.
      const major = page.locator('.amount[data-pool-id="page-eu:major"]');
      assert.ok(
        await eventually(
          async () =>
            (await major.locator('xpath=..').textContent())?.includes(`cycle ${win.cycle + 1}`) ?? false,
          10_000,
          200,
        ),
        'next cycle shown',
      );

      // The throughput chart shows the flow (the projector samples its counters every 5 s).
      assert.ok(
        await eventually(async () => (await page.locator('#chart-rate rect').count()) > 0, 30_000, 500),
        'throughput bars drawn',
      );
      assert.ok(
        await eventually(async () => (await page.locator('svg.spark path').count()) > 0, 40_000, 500),
        'contribution sparklines drawn',
      );
      assert.notEqual(await page.locator('#kpi-rate').textContent(), '–');

      assert.deepEqual(errors, [], 'no script errors on the page');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}live-page.png`, fullPage: true });
    } finally {
      flowing = false;
      await flow.catch(() => undefined);
      await browser?.close();
    }
    await flow;

    for (const p of procs) p.child.kill('SIGTERM');
    for (const p of procs)
      assert.equal(await p.exited(), 0, `${p.name} exits 0:\n${p.output().slice(-1500)}`);
  },
);
