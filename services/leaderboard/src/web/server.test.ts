import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricKind, Stage } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../metrics.js';
import {
  PAPER_STUDY_SPEC,
  paperStudyConfigs,
  resultFixture,
  studyResults,
} from '../store/fixtures.test-support.js';
import { openStore, type Store } from '../store/store.js';
import { createWebServer, type WebServer } from './server.js';

let dir: string;
let store: Store;
let server: WebServer;
let metrics: Metrics;
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-web-'));
  metrics = new Metrics();
  store = openStore({ path: join(dir, 'leaderboard.db'), metrics });
  store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 4 });
  const artifactsDir = join(dir, 'artifacts');
  mkdirSync(join(artifactsDir, 't1', 'gradcam'), { recursive: true });
  writeFileSync(join(artifactsDir, 't1', 'gradcam', 'a b.png'), PNG);
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  symlinkSync(join(dir, 'secret.txt'), join(artifactsDir, 'escape.txt'));
  server = await createWebServer({ store, port: 0, artifactsDir, metrics, pushDelayMs: 10 });
});

afterEach(async () => {
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** A GET with the path sent exactly as given (fetch would resolve "..").  */
function getRaw(path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: server.port, path }, (response) => {
      let text = '';
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('pages', () => {
  it('lists sweeps with their names escaped', async () => {
    store.registerSweep({ namespace: 'lab', sweep: '<b>bold</b>', specJson: '{}', trialCount: 1 });
    const { status, text } = await get('/');
    expect(status).toBe(200);
    expect(text).toContain('&lt;b&gt;bold&lt;/b&gt;');
    expect(text).not.toContain('<b>bold');
    expect(text).toContain('href="/sweeps/lab/%3Cb%3Ebold%3C%2Fb%3E"');
  });

  it('answers 404 for an unknown sweep and trial, with the name escaped', async () => {
    const sweep = await get('/sweeps/default/%3Cimg%20src%3Dx%3E');
    expect(sweep.status).toBe(404);
    expect(sweep.text).toContain('&lt;img src=x&gt;');
    expect(sweep.text).not.toContain('<img src=x>');
    expect((await get('/trials/default/nope')).status).toBe(404);
    expect((await get('/nowhere')).status).toBe(404);
  });

  it('escapes trial names, config values and artifact names on the trial page', async () => {
    const trial = '<script>alert(1)</script>';
    const input = resultFixture({
      trial,
      artifacts: [
        { name: '<img src=x onerror=alert(2)>', uri: 't1/gradcam/a b.png', mediaType: 'image/png' },
        { name: 'link', uri: 'javascript:alert(3)', mediaType: 'text/html' },
      ],
    });
    input.config = {
      ...(input.config as NonNullable<typeof input.config>),
      augmentation: '"><svg onload=alert(4)>',
      configJson: JSON.stringify({ note: '</pre><script>alert(5)</script>' }),
    };
    store.reportResult(input);
    const { status, text, headers } = await get(`/trials/default/${encodeURIComponent(trial)}`);
    expect(status).toBe(200);
    expect(text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(text).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(text).toContain('&quot;&gt;&lt;svg onload=alert(4)&gt;');
    expect(text).toContain('&lt;/pre&gt;&lt;script&gt;alert(5)&lt;/script&gt;');
    expect(text).not.toMatch(/<script>alert|<img src=x|<svg onload|href="javascript:/);
    expect(text).toContain('src="/artifacts/t1/gradcam/a%20b.png"');
    // The only executable script carries the nonce of the Content-Security-Policy.
    const nonce = /script-src 'nonce-([^']+)'/.exec(
      headers.get('content-security-policy') ?? '',
    )?.[1];
    expect(nonce).toBeTruthy();
    const scripts = [...text.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    expect(scripts).toEqual([' type="application/json" id="boot"', ` nonce="${nonce}"`]);
  });

  it('says which split each number comes from: latest results and the trial page', async () => {
    store.reportResult(
      resultFixture({ trial: 'split', metrics: { f1: 0.912 }, valMetrics: { f1: 0.634 } }),
    );
    const sweep = await get('/sweeps/default/study');
    const recent = /<table id="recent">[\s\S]*?<\/table>/.exec(sweep.text)?.[0] ?? '';
    expect(recent).toMatch(/<th class="num">val F1<\/th><th class="num">test F1<\/th>/);
    expect(recent).toMatch(/<td class="num">63\.4<\/td>\s*<td class="num">91\.2<\/td>/);
    const trial = await get('/trials/default/split');
    const metrics = /<table id="metrics">[\s\S]*?<\/table>/.exec(trial.text)?.[0] ?? '';
    expect(metrics).toContain('<th class="num">Validation</th><th class="num">Test</th>');
    expect(metrics).toMatch(/<th>f1<\/th><td class="num">63\.4<\/td><td class="num">91\.2<\/td>/);
  });

  it('ranks configs by validation and links the pages of a long ranking', async () => {
    for (let i = 0; i < 120; i++) {
      store.reportResult(
        resultFixture({
          trial: `t${i}`,
          learningRate: i,
          // Test ranks them the other way round from validation.
          metrics: { f1: 1 - i / 200, recall: 1 - i / 200 },
          valMetrics: { f1: i / 200 },
        }),
      );
    }
    const first = await get('/sweeps/default/study?pageSize=50');
    const rows = (text: string) =>
      [...text.matchAll(/<tr data-config-key="([^"]+)" data-val_f1="([^"]*)"/g)].map((m) => m[1]);
    expect(first.status).toBe(200);
    expect(rows(first.text)).toHaveLength(50);
    expect(rows(first.text)[0]).toContain('-119');
    expect(first.text).toContain('Page 1 of 3');
    expect(first.text).toContain(
      'href="/sweeps/default/study?sort=val_f1&amp;order=desc&amp;page=2&amp;pageSize=50"',
    );
    expect(first.text).not.toContain('rel="prev"');
    // Each column says its split.
    expect(first.text).toMatch(/>val F1 ▼<\/a><\/th><th class="num"><a [^>]+>test F1<\/a>/);

    const last = await get('/sweeps/default/study?sort=recall&order=asc&page=3&pageSize=50');
    expect(rows(last.text)).toHaveLength(20);
    expect(last.text).toContain('Page 3 of 3');
    expect(last.text).not.toContain('rel="next"');
    expect(last.text).toContain(
      'href="/sweeps/default/study?sort=recall&amp;order=asc&amp;page=2&amp;pageSize=50"',
    );
    // Ascending test recall puts the highest recall (lowest i) last.
    expect(rows(last.text).at(-1)).toContain('-0');
    expect(last.text).toMatch(
      /<tbody id="ranking-body" data-sort="recall" data-order="asc" data-page-size="50" data-rank-offset="100">/,
    );
  });

  it('shows the tables of each grid with their reference rows, and the trivial rows in the ranking', async () => {
    store.registerSweep({
      namespace: 'default',
      sweep: 'paper',
      specJson: PAPER_STUDY_SPEC,
      trialCount: 99,
    });
    const configs = paperStudyConfigs().filter((c) => c.grids.includes('tables-5-8'));
    for (const result of studyResults(configs, {
      sweep: 'paper',
      seeds: 2,
      images: 20,
      rng: new Random(1),
    })) {
      store.reportResult(result);
    }
    const { status, text } = await get('/sweeps/default/paper');
    expect(status).toBe(200);
    const reference = /<tbody id="ranking-reference">[\s\S]*?<\/tbody>/.exec(text)?.[0] ?? '';
    expect(reference).toContain('Majority class (0)');
    expect(reference).toContain('Always positive (1)');
    const grid = /<section class="grid" data-grid="tables-5-8">[\s\S]*?<\/section>/.exec(text)?.[0];
    const tables = [...(grid ?? '').matchAll(/<table class="result-table"[\s\S]*?<\/table>/g)].map(
      (m) => m[0],
    );
    expect(tables.map((t) => /<caption>([^<]*)/.exec(t)?.[1])).toEqual([
      'Square mask',
      'Block-wise mask',
      'Random mask',
      'Mesh mask',
    ]);
    const mesh = tables[3] as string;
    expect(mesh).toMatch(/<th>Masking ratio<\/th><th class="num">test Accuracy<\/th>/);
    expect(mesh).toContain('<th class="num">val F1</th><th class="num">Δ test F1 vs scratch</th>');
    expect(mesh.match(/<tr class="config"/g)).toHaveLength(4);
    expect(mesh.match(/<tr class="reference scratch"/g)).toHaveLength(1);
    expect(mesh.match(/<tr class="reference trivial"/g)).toHaveLength(2);
    expect(mesh.match(/chosen on val/g)).toHaveLength(1);
    expect(mesh).toMatch(/Test set: 20 images × 2 seeds\. Smallest F1 difference/);
    // Every interval printed in percent lies within [0, 100].
    const bounds = [...text.matchAll(/<span class="ci">\[(-?[\d.]+), (-?[\d.]+)\]/g)];
    expect(bounds.length).toBeGreaterThan(50);
    for (const [, low, high] of bounds) {
      expect(Number(low)).toBeGreaterThanOrEqual(0);
      expect(Number(high)).toBeLessThanOrEqual(100);
    }
    expect(grid).toContain('<caption>SparK · RandomResizedCrop: test F1 by mask</caption>');
  });

  it('refuses bad query parameters, naming them', async () => {
    const sort = await get('/sweeps/default/study?sort=%3Cx%3E');
    expect(sort.status).toBe(400);
    expect(sort.text).toContain(
      'sort: must be one of val_f1, f1, recall, precision, accuracy, n, got &quot;&lt;x&gt;&quot;',
    );
    expect((await get('/sweeps/default/study?page=0')).text).toContain('page: must be an integer');
    expect((await get('/compare?ns=default&sweep=study&b=x')).text).toContain('a: is required');
  });

  it('shows the paired test of two configs', async () => {
    const labels = [1, 1, 1, 0, 0];
    const predictions = (predicted: number[]) =>
      predicted.map((p, i) => ({
        sampleId: `s${i}`,
        label: labels[i] as number,
        predicted: p,
        probabilities: [],
      }));
    store.reportResult(
      resultFixture({ trial: 'a', maskType: 'random', predictions: predictions([1, 1, 1, 0, 0]) }),
    );
    store.reportResult(
      resultFixture({ trial: 'b', maskType: 'mesh', predictions: predictions([0, 1, 1, 0, 1]) }),
    );
    const summary = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    const key = (type: string) =>
      summary.configs.find((c) => c.config.maskType === type)?.config.configKey ?? '';
    const page = await get(
      `/compare?ns=default&sweep=study&a=${key('random')}&b=${key('mesh')}&seed=3`,
    );
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/Only A correct \(b\)<\/th><td class="num">2</);
    expect(page.text).toMatch(/Only B correct \(c\)<\/th><td class="num">0</);
    expect(page.text).toMatch(/McNemar exact p \(pooled pairs\)<\/th><td class="num">0.500</);
    expect(page.text).toMatch(/Common seeds<\/th><td class="num">0</);
    expect(page.text).toMatch(/p-value \(two-sided, bootstrap\)<\/th><td class="num">0?\.\d+</);
    expect(page.text).toContain('<th>95 % interval (paired two-stage bootstrap)</th>');
    // The interval is at the level asked, and says so.
    const asked = await get(
      `/compare?ns=default&sweep=study&a=${key('random')}&b=${key('mesh')}&confidence=0.8`,
    );
    expect(asked.text).toContain('<th>80 % interval (paired two-stage bootstrap)</th>');
    const odd = await get(
      `/compare?ns=default&sweep=study&a=${key('random')}&b=${key('mesh')}&confidence=0.975`,
    );
    expect(odd.text).toContain('<th>97.5 % interval');
    const unknown = await get(`/compare?ns=default&sweep=study&a=nope&b=${key('mesh')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('config_key_a');
  });
});

describe('artifacts', () => {
  it('serves a file of the artifact store with its content type', async () => {
    const response = await fetch(`${server.url}/artifacts/t1/gradcam/a%20b.png`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(PNG);
  });

  it.each([
    ['/artifacts/../secret.txt', 400],
    ['/artifacts/t1/../../secret.txt', 400],
    ['/artifacts/%2e%2e/secret.txt', 400],
    ['/artifacts/t1%2F..%2F..%2Fsecret.txt', 400],
    ['/artifacts/t1//gradcam/a%20b.png', 400],
    ['/artifacts/%E0%A4%A', 400],
    ['/artifacts/escape.txt', 404],
    ['/artifacts/t1/gradcam', 404],
    ['/artifacts/t1/missing.png', 404],
  ])('refuses %s with %i', async (path, status) => {
    const response = await getRaw(path);
    expect(response.status).toBe(status);
    expect(response.text).not.toContain('secret');
  });
});

describe('JSON API', () => {
  it('gives summaries with NaN as null and results with named errors', async () => {
    store.reportResult(resultFixture({ trial: 'a', metrics: { f1: 0.5 } }));
    const summary = JSON.parse((await get('/api/sweeps/default/study/summary')).text);
    expect(summary.configs[0].metrics.f1).toEqual({
      mean: 0.5,
      std: null,
      ciLow: null,
      ciHigh: null,
      n: 1,
      perSeed: [0.5],
      standardError: null,
    });
    const results = JSON.parse(
      (await get('/api/sweeps/default/study/results?filter.mask.type=random')).text,
    );
    expect(results.totalCount).toBe(1);
    const ranged = await get(
      '/api/sweeps/default/study/results?sort_by=config.finetune.lr&metric.f1=%3E%3D0.6',
    );
    expect(JSON.parse(ranged.text).totalCount).toBe(0);
    const badRange = await get('/api/sweeps/default/study/results?metric.f1=%3Ehigh');
    expect([badRange.status, JSON.parse(badRange.text).error.field]).toEqual([
      400,
      'metric_filter.f1',
    ]);
    const bad = await get('/api/sweeps/default/study/results?page_size=5000');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.field).toBe('page_size');
    expect((await get('/api/trials/default/a')).status).toBe(200);
  });

  it('is read-only', async () => {
    const response = await fetch(`${server.url}/api/sweeps`, { method: 'POST' });
    expect(response.status).toBe(405);
  });
});

describe('live updates', () => {
  /** Reads server-sent events until `done` says enough. */
  async function readEvents(
    path: string,
    headers: Record<string, string>,
    act: () => void,
    done: (events: Array<{ event: string; id: string; data: string }>) => boolean,
  ) {
    const controller = new AbortController();
    const response = await fetch(`${server.url}${path}`, { headers, signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const events: Array<{ event: string; id: string; data: string }> = [];
    let buffer = '';
    act();
    while (!done(events)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}: `))
            ?.slice(name.length + 2) ?? '';
        if (field('event'))
          events.push({ event: field('event'), id: field('id'), data: field('data') });
        end = buffer.indexOf('\n\n');
      }
    }
    controller.abort();
    return events;
  }

  it('pushes new results, config rows and metric points as they are stored', async () => {
    const events = await readEvents(
      '/events/default/study',
      {},
      () => {
        setTimeout(() => {
          store.reportResult(resultFixture({ trial: '<i>t</i>', metrics: { f1: 0.5 } }));
          store.insertMetricEvents([
            {
              namespace: 'default',
              sweep: 'study',
              trial: 't',
              attempt: 1,
              stage: Stage.STAGE_FINETUNE,
              kind: MetricKind.METRIC_KIND_TRAIN,
              step: 3,
              epoch: 0,
              values: { loss: 0.25 },
              wallTimeMs: 0,
            },
          ]);
        }, 50);
      },
      (seen) => seen.some((e) => e.event === 'points'),
    );
    const config = JSON.parse(events.find((e) => e.event === 'config')?.data ?? '{}');
    expect(config.html).toContain('data-f1="0.5"');
    expect(config.html).toContain('data-val_f1="0.78"');
    const result = JSON.parse(events.find((e) => e.event === 'result')?.data ?? '{}');
    expect(result.html).toContain('&lt;i&gt;t&lt;/i&gt;');
    expect(result.resultCount).toBe(1);
    const points = JSON.parse(events.find((e) => e.event === 'points')?.data ?? '[]');
    expect(points).toEqual([[1, 't', 1, 2, 1, 'loss', 3, 0.25]]);
    expect(events.at(-1)?.id).toBe('1.1');
  });

  it('resumes after the cursors of Last-Event-ID', async () => {
    store.reportResult(resultFixture({ trial: 'old' }));
    store.reportResult(resultFixture({ trial: 'missed', seed: 1 }));
    const events = await readEvents(
      '/events/default/study',
      { 'Last-Event-ID': '1.0' },
      () => {},
      (seen) => seen.some((e) => e.event === 'result'),
    );
    const results = events.filter((e) => e.event === 'result').map((e) => JSON.parse(e.data).html);
    expect(results).toHaveLength(1);
    expect(results[0]).toContain('missed');
  });

  it('renders a time no date can hold (stored before the store refused it) on the pages and in the stream', async () => {
    store.reportResult(resultFixture({ trial: 'far', seed: 1 }));
    const db = new Database(join(dir, 'leaderboard.db'));
    db.prepare("UPDATE results SET finished_at_ms = ? WHERE trial = 'far'").run(2 ** 53 - 1);
    db.close();
    const sweep = await get('/sweeps/default/study');
    expect(sweep.status).toBe(200);
    expect(sweep.text).toContain('9007199254740991 ms (not a date)');
    const trial = await get('/trials/default/far');
    expect(trial.status).toBe(200);
    expect(trial.text).toContain('finished 9007199254740991 ms (not a date)');
    const events = await readEvents(
      '/events/default/study',
      { 'Last-Event-ID': '0.0' },
      () => {
        setTimeout(() => store.reportResult(resultFixture({ trial: 'near', seed: 2 })), 50);
      },
      (seen) => seen.filter((e) => e.event === 'result').length >= 2,
    );
    const results = events.filter((e) => e.event === 'result').map((e) => JSON.parse(e.data).html);
    expect(results.map((html) => /far|near/.exec(html)?.[0])).toEqual(['far', 'near']);
  });
});

describe('/metrics', () => {
  it('exposes the counts of the store and the server in Prometheus text', async () => {
    store.reportResult(resultFixture({ trial: 'a' }));
    store.reportResult(resultFixture({ trial: 'a' }));
    await get('/');
    const { text, headers } = await get('/metrics');
    expect(headers.get('content-type')).toContain('text/plain');
    expect(text).toContain('masksweep_leaderboard_results_stored_total 1');
    expect(text).toContain('masksweep_leaderboard_results_ignored_total{reason="duplicate"} 1');
    expect(text).toMatch(
      /masksweep_leaderboard_request_duration_seconds_count\{transport="http",route="sweeps",status="200"\} 1/,
    );
    expect(text).toContain('masksweep_leaderboard_sse_clients 0');
  });
});
