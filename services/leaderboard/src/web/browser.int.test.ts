/**
 * The web view in a real headless Chromium: live rows and curves arrive without a reload,
 * links lead to trial pages, and hostile names stay text.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricKind, Stage } from '@masksweep/proto';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@masksweep/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultFixture } from '../store/fixtures.test-support.js';
import { openStore, type Store } from '../store/store.js';
import { createWebServer, type WebServer } from './server.js';

const hasChromium = existsSync(CHROMIUM_PATH);
const XSS_TRIAL = '<script>alert(1)</script>';

describe.skipIf(!hasChromium)(
  `web view in Chromium${hasChromium ? '' : ` (skipped: ${CHROMIUM_PATH} is absent; apt-get install chromium)`}`,
  () => {
    let dir: string;
    let store: Store;
    let server: WebServer;
    let browser: Browser;
    let page: Page;
    const dialogs: string[] = [];
    const pageErrors: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'leaderboard-browser-'));
      store = openStore({ path: join(dir, 'leaderboard.db') });
      store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 6 });
      store.reportResult(
        resultFixture({
          trial: 'study-a0',
          maskType: 'random',
          metrics: { f1: 0.8 },
          valMetrics: { f1: 0.8 },
        }),
      );
      store.reportResult(
        resultFixture({
          trial: 'study-b0',
          maskType: 'mesh',
          metrics: { f1: 0.6 },
          valMetrics: { f1: 0.6 },
        }),
      );
      server = await createWebServer({ store, port: 0, pushDelayMs: 20 });
      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        args: [...CHROMIUM_ARGS],
      });
      page = await browser.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        // CSP violations are reported on the console.
        if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      store?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('adds a reported result to the open sweep page without a reload', async () => {
      let navigations = 0;
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations += 1;
      });
      await page.goto(`${server.url}/sweeps/default/study`);
      await page.locator('#live', { hasText: /^live$/ }).waitFor();
      const rowKeys = async () => {
        const rows = page.locator('#ranking-body tr');
        const keys: Array<string | null> = [];
        for (let i = 0; i < (await rows.count()); i++) {
          keys.push(await rows.nth(i).getAttribute('data-config-key'));
        }
        return keys;
      };
      expect(await rowKeys()).toHaveLength(2);

      expect(await page.locator('#ranking-reference tr').count()).toBe(0);
      // Its test F1 is the lowest, its validation F1 the highest; its test predictions are
      // the first of the sweep, so the trivial classifiers of their test set appear too.
      const best = resultFixture({
        trial: 'study-c0',
        maskType: 'square',
        metrics: { f1: 0.5 },
        valMetrics: { f1: 0.9 },
        predictions: ['s0', 's1', 's2', 's3'].map((sampleId, i) => ({
          sampleId,
          label: i % 2,
          predicted: i % 2,
          probabilities: [],
        })),
      });
      store.reportResult(best);
      const key = best.config?.configKey as string;
      await page.waitForSelector(`#ranking-body tr[data-config-key="${key}"]`, { timeout: 10_000 });
      // Ranked first, as its validation F1 is the highest.
      expect((await rowKeys())[0]).toBe(key);
      expect(await page.textContent('#ranking-body tr:first-child .rank')).toBe('1');
      expect(await page.textContent('#result-count')).toBe('3');
      await page.waitForSelector('#recent-body tr[data-trial="study-c0"]');
      await page.waitForSelector('#ranking-reference tr[data-trivial="always_positive"]');
      expect(await page.locator('#ranking-reference tr').count()).toBe(2);

      // A second seed of an existing config updates its row in place.
      store.reportResult(
        resultFixture({
          trial: 'study-a1',
          maskType: 'random',
          seed: 1,
          metrics: { f1: 0.7 },
          valMetrics: { f1: 0.7 },
        }),
      );
      await page.waitForSelector('#ranking-body tr[data-n="2"]', { timeout: 10_000 });
      expect(await rowKeys()).toHaveLength(3);
      expect(navigations).toBe(1);
    });

    it('draws metric curves as they arrive', async () => {
      const events = Array.from({ length: 20 }, (_, step) => ({
        namespace: 'default',
        sweep: 'study',
        trial: 'study-c0',
        attempt: 1,
        stage: Stage.STAGE_FINETUNE,
        kind: MetricKind.METRIC_KIND_TRAIN,
        step,
        epoch: 0,
        values: { loss: 1 / (step + 1) },
        wallTimeMs: step,
      }));
      store.insertMetricEvents(events);
      await page.waitForSelector('#chart-finetune-loss polyline', { timeout: 10_000 });
      const points = await page.getAttribute('#chart-finetune-loss polyline', 'points');
      expect(points?.split(' ')).toHaveLength(20);
      expect(await page.textContent('#chart-finetune-loss .legend')).toContain('study-c0 loss');
    });

    it('keeps a hostile trial name as text, live and on its page', async () => {
      store.reportResult(
        resultFixture({
          trial: XSS_TRIAL,
          maskType: 'blockwise',
          augmentation: '<img src=x onerror=alert(2)>',
          metrics: { f1: 0.95 },
          valMetrics: { f1: 0.95 },
        }),
      );
      await page
        .locator('#recent-body')
        .getByRole('link', { name: XSS_TRIAL, exact: true })
        .waitFor({ timeout: 10_000 });
      expect(await page.textContent('#ranking-body tr:first-child')).toContain(
        '<img src=x onerror=alert(2)>',
      );

      await Promise.all([
        page.waitForURL(/\/trials\/default\//),
        page.click(`#recent-body tr:first-child a`),
      ]);
      expect(await page.textContent('h1')).toBe(XSS_TRIAL);
      expect(await page.textContent('#config-json')).toContain(
        '"type": "<img src=x onerror=alert(2)>"',
      );
      expect(dialogs).toEqual([]);
      expect(pageErrors).toEqual([]);
    });

    it('shows a table of the grid: one row per config, the best on validation marked', async () => {
      await page.goto(`${server.url}/sweeps/default/study`);
      const table = page.locator('section.grid[data-grid="grid-1"] table.result-table', {
        // The hostile augmentation makes it a grid of augmentations: a table per mask.
        has: page.locator('caption', { hasText: /^Random 60%/ }),
      });
      await table.waitFor();
      // study-a0 and study-a1 are two seeds of one config: one row, n = 2.
      const rows = table.locator('tbody tr.config');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().locator('td').first().textContent()).toMatch(/^RandomResizedCrop/);
      expect(await rows.first().locator('td').last().textContent()).toBe('2');
      expect(await table.locator('thead').textContent()).toMatch(/test Precision.*val F1/);
      // The square mask's table has the one config with predictions: its trivial rows.
      const square = page.locator('table.result-table', {
        has: page.locator('caption', { hasText: /^Square 2×2/ }),
      });
      expect(await square.locator('tr.reference.trivial').count()).toBe(2);
      expect(await square.locator('.chosen').count()).toBe(1);
      expect(pageErrors).toEqual([]);
    });

    it('opens a trial page from a seed link of the ranking', async () => {
      await page.goto(`${server.url}/sweeps/default/study`);
      await Promise.all([
        page.waitForURL(/\/trials\/default\/study-/),
        page.click('a[title="study-a1"]'),
      ]);
      expect(await page.textContent('h1')).toBe('study-a1');
      expect(await page.textContent('#confusion')).toContain('40');
      expect(dialogs).toEqual([]);
      expect(pageErrors).toEqual([]);
    });
  },
);
