import { type ResultTable, TableRowKind } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import { holm } from '@masksweep/stats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PAPER_STUDY_SPEC,
  paperStudyConfigs,
  resultFixture,
  type StudyConfig,
  studyResults,
} from '../store/fixtures.test-support.js';
import { openStore, type Store } from '../store/store.js';
import { useTestStore } from '../store/store.test-support.js';
import type { SweepSummary } from '../store/types.js';
import { summarizeConfig } from './config-summary.js';

let store: Store;
let storePath: string;
useTestStore((opened, path) => {
  store = opened;
  storePath = path;
});

function paperSummary(
  configs: StudyConfig[] = paperStudyConfigs(),
  options: { seeds?: number; images?: number; spec?: string } = {},
): SweepSummary {
  store.registerSweep({
    namespace: 'default',
    sweep: 'paper',
    specJson: options.spec ?? PAPER_STUDY_SPEC,
    trialCount: configs.length * 3,
  });
  const results = studyResults(configs, {
    sweep: 'paper',
    seeds: options.seeds ?? 3,
    images: options.images ?? 40,
    rng: new Random(7),
  });
  for (const result of results) store.reportResult(result);
  return store.getSweepSummary({ namespace: 'default', sweep: 'paper' });
}

const configRows = (table: ResultTable) =>
  table.rows.filter((row) => row.kind === TableRowKind.TABLE_ROW_KIND_CONFIG);
const rowsOf = (table: ResultTable, kind: TableRowKind) =>
  table.rows.filter((row) => row.kind === kind);
const find = (summary: SweepSummary, grid: string, title: string) =>
  summary.tables.find((t) => t.grid === grid && t.title === title) as ResultTable;

describe('the tables of a sweep', () => {
  it("builds each table from one grid, one row per config, in the paper's shapes", () => {
    const summary = paperSummary();
    expect(summary.tables.map((t) => [t.grid, t.title, t.rowHeader])).toEqual([
      ['tables-2-4', 'SimCLR', 'Augmentation'],
      ['tables-2-4', 'MFF', 'Augmentation'],
      ['tables-2-4', 'SparK · Random 60%', 'Augmentation'],
      ['tables-5-8', 'Square mask', 'Mask size'],
      ['tables-5-8', 'Block-wise mask', 'Masking ratio'],
      ['tables-5-8', 'Random mask', 'Masking ratio'],
      ['tables-5-8', 'Mesh mask', 'Masking ratio'],
      ['table-9', 'Random 60% · RandomResizedCrop', 'Method'],
    ]);
    expect(find(summary, 'tables-5-8', 'Square mask').fixed).toBe('SparK · RandomResizedCrop');
    const spark = find(summary, 'tables-2-4', 'SparK · Random 60%');
    expect(configRows(spark).map((r) => r.label)).toEqual([
      'None',
      'RandomResizedCrop',
      'RandomFlip',
      'CutMix',
      'Mixup',
    ]);
    expect(configRows(find(summary, 'tables-5-8', 'Random mask')).map((r) => r.label)).toEqual([
      '50%',
      '60%',
      '70%',
    ]);
    expect(
      configRows(find(summary, 'table-9', 'Random 60% · RandomResizedCrop')).map((r) => r.label),
    ).toEqual(['SparK', 'SparK (dense)']);

    // Table 4's RandomResizedCrop row and Table 7's 60 % row are one config, the one both
    // grids share; nothing else stands in either row.
    const shared = summary.configs.find(
      (c) =>
        c.config.method === 'spark' &&
        c.config.maskType === 'random' &&
        c.config.maskRatio === 0.6 &&
        c.config.augmentation === 'randomResizedCrop',
    );
    expect(shared?.config.grids).toEqual(['tables-2-4', 'tables-5-8', 'table-9']);
    expect(configRows(spark)[1]?.configKey).toBe(shared?.config.configKey);
    expect(configRows(find(summary, 'tables-5-8', 'Random mask'))[1]?.configKey).toBe(
      shared?.config.configKey,
    );

    // Every config of a grid but scratch is a row of exactly one of its tables.
    const byKey = new Map(summary.configs.map((c) => [c.config.configKey, c]));
    for (const grid of ['tables-2-4', 'tables-5-8', 'table-9']) {
      const tables = summary.tables.filter((t) => t.grid === grid);
      const keys = tables.flatMap((t) => configRows(t).map((r) => r.configKey));
      const members = summary.configs
        .filter((c) => c.config.grids.includes(grid) && c.config.method !== 'scratch')
        .map((c) => c.config.configKey);
      expect(keys.sort()).toEqual(members.sort());
      for (const key of keys) expect(byKey.get(key)?.config.grids).toContain(grid);
    }
  });

  it('gives a config that differs in another field its own row, labelled by that field', () => {
    const summary = paperSummary();
    store.reportResult(
      resultFixture({
        sweep: 'paper',
        trial: 'paper-lr',
        maskType: 'random',
        maskRatio: 0.6,
        learningRate: 0.0002,
        grids: ['tables-5-8'],
      }),
    );
    const after = store.getSweepSummary({ namespace: 'default', sweep: 'paper' });
    expect(after).not.toBe(summary);
    const random = configRows(find(after, 'tables-5-8', 'Random mask'));
    expect(random.map((r) => r.label)).toEqual([
      '50%',
      '60% · finetune.lr=0.0001',
      '60% · finetune.lr=0.0002',
      '70%',
    ]);
    expect(new Set(random.map((r) => r.configKey)).size).toBe(4);
  });

  it('has the scratch and trivial reference rows, each row compared with its scratch under Holm', () => {
    const summary = paperSummary();
    const byKey = new Map(summary.configs.map((c) => [c.config.configKey, c]));
    const simclr = find(summary, 'tables-2-4', 'SimCLR');
    const scratch = rowsOf(simclr, TableRowKind.TABLE_ROW_KIND_SCRATCH);
    expect(scratch.map((r) => r.label)).toEqual([
      'Scratch · None',
      'Scratch · RandomResizedCrop',
      'Scratch · RandomFlip',
      'Scratch · CutMix',
      'Scratch · Mixup',
    ]);
    const rows = configRows(simclr);
    for (const row of rows) {
      const reference = byKey.get(row.referenceConfigKey);
      expect(reference?.config.method).toBe('scratch');
      expect(reference?.config.augmentation).toBe(byKey.get(row.configKey)?.config.augmentation);
      const versus = row.versusReference;
      const f1 = (key: string) => byKey.get(key)?.metrics.f1?.mean as number;
      expect(versus?.difference).toBeCloseTo(f1(row.configKey) - f1(row.referenceConfigKey), 12);
      expect(versus?.seeds).toEqual([0, 1, 2]);
      expect(versus?.ciLow).toBeLessThanOrEqual(versus?.ciHigh as number);
      expect(versus?.pValueHolm).toBeGreaterThanOrEqual(versus?.pValue as number);
    }
    const pValues = rows.map((r) => r.versusReference?.pValue as number);
    expect(rows.map((r) => r.versusReference?.pValueHolm)).toEqual(holm(pValues));
    const detectable = rows.map((r) => r.versusReference?.detectableDifference as number);
    expect(simclr.detectableDifference).toBe(detectable.sort((a, b) => a - b)[2]);
    expect(simclr).toMatchObject({
      comparisons: 5,
      comparisonMetric: 'f1',
      choiceMetric: 'val_f1',
      testImages: 40,
      minSeeds: 3,
      maxSeeds: 3,
    });

    for (const table of summary.tables) {
      expect(rowsOf(table, TableRowKind.TABLE_ROW_KIND_TRIVIAL).map((r) => r.trivial)).toEqual([
        'majority',
        'always_positive',
      ]);
    }
    for (const table of summary.tables.filter((t) => t.grid === 'tables-5-8')) {
      expect(rowsOf(table, TableRowKind.TABLE_ROW_KIND_SCRATCH).map((r) => r.label)).toEqual([
        'Scratch · RandomResizedCrop',
      ]);
      expect(table.comparisons).toBe(configRows(table).length);
    }
    // table-9 has no scratch config: no reference row, no comparison and no reason.
    const table9 = summary.tables.find((t) => t.grid === 'table-9') as ResultTable;
    expect(rowsOf(table9, TableRowKind.TABLE_ROW_KIND_SCRATCH)).toEqual([]);
    expect(configRows(table9).map((r) => [r.versusReference, r.noComparison])).toEqual([
      [null, ''],
      [null, ''],
    ]);
    expect(table9.detectableDifference).toBeNaN();
  });

  it('marks the row best on validation, also where test ranks another first', () => {
    const configs = paperStudyConfigs().map((config) =>
      config.method !== 'simclr'
        ? config
        : config.augmentation === 'none'
          ? { ...config, testSkill: 0.98, valF1: 0.5 }
          : config.augmentation === 'mixup'
            ? { ...config, testSkill: 0.55, valF1: 0.95 }
            : { ...config, testSkill: 0.7, valF1: 0.7 },
    );
    const summary = paperSummary(configs);
    const byKey = new Map(summary.configs.map((c) => [c.config.configKey, c]));
    const rows = configRows(find(summary, 'tables-2-4', 'SimCLR'));
    const testF1 = rows.map((r) => byKey.get(r.configKey)?.metrics.f1?.mean as number);
    expect(rows[testF1.indexOf(Math.max(...testF1))]?.label).toBe('None');
    expect(rows.filter((r) => r.best).map((r) => r.label)).toEqual(['Mixup']);
    // Every table marks its best validation row, and only config rows.
    for (const table of summary.tables) {
      const best = table.rows.filter((r) => r.best);
      expect(best.length).toBeGreaterThanOrEqual(1);
      expect(best.every((r) => r.kind === TableRowKind.TABLE_ROW_KIND_CONFIG)).toBe(true);
    }
  });

  it("chooses the lowest validation value when the Sweep's objective is minimised", () => {
    const spec = JSON.stringify({ spec: { objective: { metric: 'f1', direction: 'minimize' } } });
    const summary = paperSummary(paperStudyConfigs(), { spec });
    expect(summary.objectiveMinimizes).toBe(true);
    const byKey = new Map(summary.configs.map((c) => [c.config.configKey, c]));
    const table = find(summary, 'tables-2-4', 'MFF');
    const val = configRows(table).map((r) => byKey.get(r.configKey)?.valMetrics.f1?.mean as number);
    const best = configRows(table).find((r) => r.best);
    expect(byKey.get(best?.configKey as string)?.valMetrics.f1?.mean).toBe(Math.min(...val));
    // Without names in the spec, grids follow by name.
    expect([...new Set(summary.tables.map((t) => t.grid))]).toEqual([
      'table-9',
      'tables-2-4',
      'tables-5-8',
    ]);
  });

  it('keeps every interval within [0, 1] with 2 seeds and extreme data', () => {
    const extremes = paperStudyConfigs()
      .filter((c) => c.grids.includes('tables-2-4'))
      .map((config, i) => ({ ...config, testSkill: [0, 1, 0.5, 0.97][i % 4] as number }));
    const summary = paperSummary(extremes, { seeds: 2, images: 10 });
    const intervals = [
      ...summary.configs.flatMap((c) => Object.values(c.metrics)),
      ...summary.trivial.flatMap((t) => Object.values(t.metrics)),
    ];
    expect(intervals.length).toBeGreaterThan(100);
    for (const interval of intervals) {
      expect(interval.ciLow).toBeGreaterThanOrEqual(0);
      expect(interval.ciHigh).toBeLessThanOrEqual(1);
      expect(interval.ciLow).toBeLessThanOrEqual(interval.ciHigh);
    }
    const always = summary.configs.find((c) => c.metrics.accuracy?.mean === 1);
    expect(always?.metrics.accuracy).toMatchObject({ ciLow: 1, ciHigh: 1 });
    // Its F1 is 1, but a resample of 10 images (3 positive) has none positive 2.8 % of the
    // time, and F1 is then 0 (precision and recall count an absent class as 0): so is the
    // interval's lower end.
    expect(always?.metrics.f1).toMatchObject({ mean: 1, ciLow: 0, ciHigh: 1 });
    const comparisons = summary.tables.flatMap((t) =>
      t.rows.flatMap((r) => (r.versusReference ? [r.versusReference] : [])),
    );
    expect(comparisons.length).toBeGreaterThanOrEqual(15);
    for (const c of comparisons) {
      expect(c.ciLow).toBeGreaterThanOrEqual(-1);
      expect(c.ciHigh).toBeLessThanOrEqual(1);
    }
  });

  it('keeps intervals within [0, 1] for any predictions of two seeds', () => {
    const seedArbitrary = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
      {
        minLength: 1,
        maxLength: 8,
      },
    );
    fc.assert(
      fc.property(seedArbitrary, seedArbitrary, (first, second) => {
        const seeds = [first, second].map((pairs, seed) => ({
          trial: `t${seed}`,
          seed,
          metrics: { f1: 0, accuracy: 0, recall: 0, precision: 0, macro_f1: 0 },
          valMetrics: {},
          numClasses: 2,
          sampleIds: pairs.map((_, i) => `${seed}-${i}`),
          labels: pairs.map(([label]) => label),
          predictions: pairs.map(([, predicted]) => predicted),
        }));
        const { summary } = summarizeConfig('cfg', seeds, { confidence: 0.95, resamples: 50 });
        for (const metric of Object.values(summary.metrics)) {
          expect(metric.ciLow).toBeGreaterThanOrEqual(0);
          expect(metric.ciHigh).toBeLessThanOrEqual(1);
          expect(metric.mean).toBeGreaterThanOrEqual(0);
          expect(metric.mean).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('brings the summary up to date as a fresh summary of the same results would be', () => {
    paperSummary();
    const config = paperStudyConfigs()[3] as StudyConfig;
    const [extra] = studyResults([config], {
      sweep: 'paper',
      seeds: 4,
      images: 40,
      rng: new Random(9),
    }).slice(3);
    store.reportResult(extra as NonNullable<typeof extra>);
    const updated = store.getSweepSummary({ namespace: 'default', sweep: 'paper' });
    const fresh = openStore({ path: storePath });
    try {
      expect(fresh.getSweepSummary({ namespace: 'default', sweep: 'paper' })).toEqual(updated);
    } finally {
      fresh.close();
    }
    expect(updated.configs.find((c) => c.seeds.length === 4)).toBeDefined();
  });
});
