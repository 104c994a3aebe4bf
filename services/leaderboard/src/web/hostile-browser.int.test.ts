/**
 * Script and markup injection, rendered by a real headless Chromium: hostile sweep, trial,
 * config, grid and artifact names on every page and in live updates. Each page must show
 * them as text, create no element or attribute from them, open no dialog, and log no error.
 * The checks read the DOM, so they hold whether or not the Content-Security-Policy would
 * also have blocked the payload.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

// Each breaks out of a different context: text, a double- or single-quoted attribute, a
// script element, a URL, raw-text elements, and a JSON string inside a script.
const SWEEP = '"><svg onload=alert(1)>';
const TRIAL_SCRIPT = '<script>window.__xss=1</script>';
const TRIAL_ATTRIBUTE = `'"><img src=x onerror=alert(2)>`;
const TRIAL_URL = 'javascript:alert(3)';
const METHOD = '</title></style></textarea><iframe srcdoc="<script>alert(4)</script>">';
const AUGMENTATION = '\u2028</script><script>alert(5)</script>';
const GRID = '<b onmouseover=alert(6)>grid</b>';
const ARTIFACT = '<img src=x onerror=alert(7)>';

/**
 * Elements and attributes that only an injection would put on these pages, found in the page
 * (a string: the tests are type-checked without the DOM's types).
 */
const FIND_INJECTED = `(() => {
  const found = [];
  for (const element of document.querySelectorAll('*')) {
    const tag = element.tagName.toLowerCase();
    if (['iframe', 'object', 'embed', 'b', 'img'].includes(tag) && !element.closest('figure')) {
      found.push('<' + tag + '>');
    }
    if (tag === 'script' && !element.nonce && element.type !== 'application/json') {
      found.push('<script>');
    }
    for (const attribute of element.getAttributeNames()) {
      if (attribute.startsWith('on')) found.push(tag + '[' + attribute + ']');
    }
    const url = element.getAttribute('href') ?? element.getAttribute('src') ?? '';
    if (/^\\s*javascript:/i.test(url)) found.push(tag + '[href=javascript:]');
  }
  if (window.__xss !== undefined) found.push('__xss');
  return found;
})()`;

const injected = (page: Page) => page.evaluate<string[]>(FIND_INJECTED);

describe.skipIf(!hasChromium)(
  `hostile names in Chromium${hasChromium ? '' : ` (skipped: ${CHROMIUM_PATH} is absent; apt-get install chromium)`}`,
  () => {
    let dir: string;
    let store: Store;
    let server: WebServer;
    let browser: Browser;
    let page: Page;
    const dialogs: string[] = [];
    const pageErrors: string[] = [];
    const predictions = ['s0', 's1', 's2', 's3'].map((sampleId, i) => ({
      sampleId,
      label: i % 2,
      predicted: i === 3 ? 0 : i % 2,
      probabilities: [],
    }));
    const hostileResult = (trial: string, seed: number, augmentation = AUGMENTATION) => {
      const result = resultFixture({
        sweep: SWEEP,
        trial,
        seed,
        augmentation,
        grids: [GRID],
        predictions,
        metrics: { f1: 0.6 + seed / 100 },
        valMetrics: { f1: 0.6 + seed / 100 },
        artifacts: [
          { name: ARTIFACT, uri: 'gradcam.png', mediaType: 'image/png' },
          { name: 'report', uri: TRIAL_URL, mediaType: 'text/html' },
        ],
      });
      return { ...result, config: { ...result.config, method: METHOD } } as typeof result;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'leaderboard-hostile-browser-'));
      store = openStore({ path: join(dir, 'leaderboard.db') });
      store.registerSweep({
        namespace: 'default',
        sweep: SWEEP,
        specJson: JSON.stringify({ note: TRIAL_SCRIPT }),
        trialCount: 4,
      });
      store.reportResult(hostileResult(TRIAL_SCRIPT, 0));
      store.reportResult(hostileResult(TRIAL_ATTRIBUTE, 1, 'none'));
      writeFileSync(join(dir, 'gradcam.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
      server = await createWebServer({ store, port: 0, artifactsDir: dir, pushDelayMs: 20 });
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
      page = await browser.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        // A blocked inline script or handler is reported here: something was injected.
        if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      store?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const sweepPath = `/sweeps/default/${encodeURIComponent(SWEEP)}`;
    // What the page shows as text (the boot script's JSON is not shown).
    const text = () => page.evaluate<string>('document.body.innerText');

    it('lists the sweep by its hostile name as text', async () => {
      await page.goto(server.url);
      expect(await text()).toContain(SWEEP);
      expect(await injected(page)).toEqual([]);
      await Promise.all([page.waitForURL(/\/sweeps\/default\//), page.getByText(SWEEP).click()]);
      expect(await page.textContent('h1')).toContain(SWEEP);
    });

    it('shows hostile trial, config and grid names as text on the sweep page, also when they arrive live', async () => {
      await page.goto(`${server.url}${sweepPath}`);
      await page.locator('#live', { hasText: /^live$/ }).waitFor();
      store.reportResult(hostileResult(TRIAL_URL, 2));
      store.insertMetricEvents(
        Array.from({ length: 5 }, (_, step) => ({
          namespace: 'default',
          sweep: SWEEP,
          trial: TRIAL_ATTRIBUTE,
          attempt: 1,
          stage: Stage.STAGE_FINETUNE,
          kind: MetricKind.METRIC_KIND_TRAIN,
          step,
          epoch: 0,
          values: { loss: 1 / (step + 1) },
          wallTimeMs: step,
        })),
      );
      await page.locator('#recent-body tr[data-trial="javascript:alert(3)"]').waitFor();
      await page.locator('#chart-finetune-loss polyline').waitFor();
      const shown = await text();
      for (const payload of [TRIAL_SCRIPT, TRIAL_ATTRIBUTE, TRIAL_URL, GRID]) {
        expect(shown).toContain(payload);
      }
      expect(shown).toContain(METHOD);
      expect(await page.textContent('#chart-finetune-loss .legend')).toContain(TRIAL_ATTRIBUTE);
      expect(await injected(page)).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(pageErrors).toEqual([]);
    });

    it.each([
      { what: '<script>', trial: TRIAL_SCRIPT, augmentation: AUGMENTATION },
      { what: 'attribute-breaking quotes', trial: TRIAL_ATTRIBUTE, augmentation: 'none' },
      { what: 'javascript: URL', trial: TRIAL_URL, augmentation: AUGMENTATION },
    ])(
      'shows the trial page of a trial named with a $what as text',
      async ({ trial, augmentation }) => {
        await page.goto(`${server.url}/trials/default/${encodeURIComponent(trial)}`);
        expect(await page.textContent('h1')).toBe(trial);
        const shown = await text();
        expect(shown).toContain(ARTIFACT);
        expect(shown).toContain(METHOD);
        expect(await page.textContent('#config-json')).toContain(
          `"type": ${JSON.stringify(augmentation)}`,
        );
        expect(await injected(page)).toEqual([]);
        expect(dialogs).toEqual([]);
        expect(pageErrors).toEqual([]);
      },
    );

    it('shows the compare page of two hostile config keys as text', async () => {
      const [a, b] = store
        .listResults({ namespace: 'default', sweep: SWEEP, sortBy: 'trial' })
        .results.map((r) => r.config.configKey);
      const query = new URLSearchParams({ ns: 'default', sweep: SWEEP, a: a ?? '', b: b ?? '' });
      const response = await page.goto(`${server.url}/compare?${query}`);
      expect(response?.status()).toBe(200);
      expect(await text()).toContain(AUGMENTATION.trim());
      expect(await injected(page)).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(pageErrors).toEqual([]);
    });

    it('shows hostile names in 404 pages as text', async () => {
      for (const path of [
        `/sweeps/default/${encodeURIComponent(TRIAL_ATTRIBUTE)}`,
        `/trials/default/${encodeURIComponent(METHOD)}`,
        `/compare?ns=default&sweep=${encodeURIComponent(SWEEP)}&a=${encodeURIComponent(TRIAL_SCRIPT)}&b=x`,
      ]) {
        const response = await page.goto(`${server.url}${path}`);
        expect(response?.status(), path).toBe(404);
        expect(await injected(page)).toEqual([]);
      }
      expect(dialogs).toEqual([]);
    });
  },
);
