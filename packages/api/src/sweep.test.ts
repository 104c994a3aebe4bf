import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  expandSweep,
  findProblems,
  loadSweepFile,
  SweepValidationError,
  validateSweep,
} from './index.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const paperFile = join(repo, 'k8s/examples/paper.yaml');
const paper = parse(readFileSync(paperFile, 'utf8'));

function minimal(overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: 'masksweep.io/v1alpha1',
    kind: 'Sweep',
    metadata: { name: 'small' },
    spec: {
      datasets: {
        pretrain: { phantom: { count: 20 } },
        downstream: { phantom: { count: 20, seed: 1 } },
        imageSize: 64,
      },
      grids: [{ methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.5] }] }],
      ...overrides,
    },
  };
}

function problemsOf(raw: unknown, options = {}) {
  return findProblems(raw, options).problems.map((p) => `${p.path}: ${p.message}`);
}

describe("the paper's Sweep", () => {
  const sweep = validateSweep(paper);

  it('expands to 33 trials (5 scratch, with no key) and 16 pre-training keys per seed', () => {
    const trials = expandSweep(sweep);
    expect(trials).toHaveLength(33);
    expect(new Set(trials.flatMap((t) => t.pretrainKey ?? [])).size).toBe(16);
    expect(new Set(trials.map((t) => t.name)).size).toBe(33);
    // The reference without pre-training: one per augmentation of Tables 2-4, whose
    // RandomResizedCrop trial is Tables 5-8's too (both grids name it; it takes no mask).
    const scratch = trials.filter((t) => t.config.method === 'scratch');
    expect(scratch.map((t) => t.config.augmentation.type)).toEqual([
      'none',
      'randomResizedCrop',
      'randomFlip',
      'cutmix',
      'mixup',
    ]);
    expect(scratch.every((t) => t.pretrainKey === undefined)).toBe(true);
  });

  it('gives the same names on re-expansion and new names for a new seed', () => {
    const once = expandSweep(sweep).map((t) => t.name);
    expect(expandSweep(validateSweep(structuredClone(paper))).map((t) => t.name)).toEqual(once);
    const twoSeeds = structuredClone(paper);
    twoSeeds.spec.seeds = [0, 1];
    const trials = expandSweep(validateSweep(twoSeeds));
    expect(trials).toHaveLength(66);
    expect(new Set(trials.flatMap((t) => t.pretrainKey ?? [])).size).toBe(32);
    expect(trials.filter((t) => t.seed === 0).map((t) => t.name)).toEqual(once);
  });

  it('shares pre-training across augmentations but not across masks or methods', () => {
    const trials = expandSweep(sweep);
    const sparkRandom60 = trials.filter(
      (t) =>
        t.config.method === 'spark' &&
        t.config.mask?.type === 'random' &&
        t.config.mask.ratio === 0.6,
    );
    expect(sparkRandom60).toHaveLength(5);
    expect(new Set(sparkRandom60.map((t) => t.pretrainKey)).size).toBe(1);
    const simclr = trials.filter((t) => t.config.method === 'simclr');
    expect(simclr).toHaveLength(5);
    expect(
      simclr.every((t) => t.config.mask === null && t.config.pretrain?.optimizer === 'lars'),
    ).toBe(true);
    const dense = trials.find((t) => t.config.method === 'spark-dense');
    expect(dense?.pretrainKey).not.toBe(sparkRandom60[0]?.pretrainKey);
  });

  it('lists on each trial the grids that produce it, without touching names or keys', () => {
    const trials = expandSweep(sweep);
    const shared = trials.filter((t) => t.grids.length > 1);
    // SparK, random 60 %, RandomResizedCrop: in Table 4's row, in Tables 5-8 and beside the
    // dense encoder in Table 9; and the scratch reference with RandomResizedCrop, in the
    // first two grids too.
    expect(shared.map((t) => [t.config.method, t.config.mask, t.config.augmentation.type])).toEqual(
      [
        ['spark', expect.objectContaining({ type: 'random', ratio: 0.6 }), 'randomResizedCrop'],
        ['scratch', null, 'randomResizedCrop'],
      ],
    );
    expect(shared.map((t) => t.grids)).toEqual([
      ['tables-2-4', 'tables-5-8', 'table-9'],
      ['tables-2-4', 'tables-5-8'],
    ]);
    const count = (grid: string) => trials.filter((t) => t.grids.includes(grid)).length;
    expect([count('tables-2-4'), count('tables-5-8'), count('table-9')]).toEqual([20, 14, 2]);

    const renamed = structuredClone(paper);
    delete renamed.spec.grids[0].name;
    renamed.spec.grids[2].name = 'dense';
    const again = expandSweep(validateSweep(renamed));
    const keys = (t: (typeof trials)[number]) => [t.name, t.pretrainKey, t.configKey];
    expect(again.map(keys)).toEqual(trials.map(keys));
    expect(again.find((t) => t.grids.length > 1)?.grids).toEqual(['grid-1', 'tables-5-8', 'dense']);
    expect(again.find((t) => t.config.method === 'spark-dense')?.grids).toEqual(['dense']);
  });

  it('resolves defaults into every trial, so writing a default changes nothing', () => {
    const explicit = structuredClone(paper);
    explicit.spec.grids[1].masks[3].rounding = 'halfEven';
    explicit.spec.grids[1].masks[3].overflow = 'error';
    expect(expandSweep(validateSweep(explicit)).map((t) => t.name)).toEqual(
      expandSweep(sweep).map((t) => t.name),
    );
    const mesh = expandSweep(sweep).find((t) => t.config.mask?.type === 'mesh');
    expect(mesh?.config.mask).toMatchObject({
      parityChoice: 'perImage',
      parityRule: 'checkerboard',
    });
  });

  it.skipIf(!existsSync(join(repo, '../shared/data/head-ct-hemorrhage')))(
    'finds its dataset folders',
    () => {
      const { sweep: loaded } = loadSweepFile(paperFile, { checkData: true });
      expect(loaded.metadata.name).toBe('paper');
    },
  );
});

describe('a scratch trial', () => {
  const masks = [
    { type: 'random', ratios: [0.5, 0.7] },
    { type: 'mesh', ratios: [0.5] },
  ];
  const augmentations = [{ type: 'none' }, { type: 'randomFlip' }];
  const scratchTrials = (overrides: Record<string, unknown> = {}) =>
    expandSweep(
      validateSweep(
        minimal({
          grids: [{ methods: ['spark', 'scratch'], masks, augmentations }],
          seeds: [0, 1],
          ...overrides,
        }),
      ),
    ).filter((t) => t.config.method === 'scratch');

  it('has no pre-training key or stage, and one trial per augmentation and seed whatever the masks', () => {
    const trials = scratchTrials();
    expect(trials.map((t) => [t.config.augmentation.type, t.seed])).toEqual([
      ['none', 0],
      ['none', 1],
      ['randomFlip', 0],
      ['randomFlip', 1],
    ]);
    for (const t of trials) {
      expect(t).not.toHaveProperty('pretrainKey');
      expect(t.config).toMatchObject({ mask: null, pretrain: null });
      // SparK's fine-tuning network: the Sweep's ConvNeXt.
      expect(t.config.model).toHaveProperty('depths');
    }
    expect(new Set(trials.map((t) => t.configKey)).size).toBe(2);
  });

  it('keeps its name and configKey when the pre-training budget changes', () => {
    const before = scratchTrials();
    const after = scratchTrials({
      budgets: { pretrain: { epochs: 3, lr: 5e-4 }, perMethod: { spark: { pretrain: { lr: 1 } } } },
    });
    expect(after.map((t) => [t.name, t.configKey])).toEqual(
      before.map((t) => [t.name, t.configKey]),
    );
    const finetuned = scratchTrials({
      budgets: { perMethod: { scratch: { finetune: { lr: 1 } } } },
    });
    expect(finetuned.map((t) => t.name)).not.toEqual(before.map((t) => t.name));
    expect(finetuned[0]?.config.finetune.lr).toBe(1);
  });

  it('takes no pre-training settings of its own', () => {
    const raw = minimal({ budgets: { perMethod: { scratch: { pretrain: { epochs: 3 } } } } });
    expect(problemsOf(raw)).toEqual(['spec.budgets.perMethod.scratch.pretrain: unknown field']);
  });
});

describe('an invalid Sweep', () => {
  it('names a grid whose name another grid has, given or by default', () => {
    const grid = { methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.5] }] };
    expect(
      problemsOf(minimal({ grids: [grid, { ...grid, name: 'grid-1' }, { ...grid, name: 'b' }] })),
    ).toEqual([
      "spec.grids[1].name: grid names must be unique: 'grid-1' is also the name of spec.grids[0]",
    ]);
    expect(problemsOf(minimal({ grids: [{ ...grid, name: 'grid-2' }, grid] }))).toEqual([
      "spec.grids[1].name: grid names must be unique: 'grid-2' (the default name of this unnamed grid) is also the name of spec.grids[0]",
    ]);
    expect(problemsOf(minimal({ grids: [{ ...grid, name: '' }] }))).toEqual([
      expect.stringMatching(/^spec\.grids\[0\]\.name: /),
    ]);
  });

  it('names an unknown mask type and the known ones', () => {
    const raw = minimal({
      grids: [{ methods: ['spark'], masks: [{ type: 'chess', ratios: [0.5] }] }],
    });
    expect(problemsOf(raw)).toEqual([
      'spec.grids[0].masks[0].type: must be one of random, mesh, square, blockwise; got "chess"',
    ]);
  });

  it('names a ratio outside (0, 1)', () => {
    const raw = minimal({
      grids: [{ methods: ['spark'], masks: [{ type: 'random', ratios: [0.5, 1.5] }] }],
    });
    expect(problemsOf(raw)).toEqual([
      expect.stringMatching(
        /^spec\.grids\[0\]\.masks\[0\]\.ratios\[1\]: expected number to be less than 1; got 1\.5$/,
      ),
    ]);
  });

  it('names a square larger than the grid', () => {
    const raw = minimal({
      grids: [{ methods: ['spark'], masks: [{ type: 'square', sizes: [1, 3] }] }],
    });
    expect(problemsOf(raw)).toEqual([
      expect.stringMatching(
        /^spec\.grids\[0\]\.masks\[0\]\.sizes\[1\]: square of 3x3 patches .* 2x2 grid/,
      ),
    ]);
  });

  it('names a mesh ratio under 0.5 with overflow error, and accepts it with clamp', () => {
    const raw = minimal({
      grids: [{ methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.4] }] }],
      datasets: { pretrain: { phantom: {} }, downstream: { phantom: {} } },
    });
    expect(problemsOf(raw)).toEqual([
      expect.stringMatching(
        /^spec\.grids\[0\]\.masks\[0\]\.ratios\[0\]: mesh ratio 0\.4 keeps 29 patches visible/,
      ),
    ]);
    const clamped = minimal({
      grids: [{ methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.4], overflow: 'clamp' }] }],
      datasets: { pretrain: { phantom: {} }, downstream: { phantom: {} } },
    });
    expect(problemsOf(clamped)).toEqual([]);
  });

  it('names a missing dataset folder', () => {
    const raw = minimal({
      datasets: { pretrain: { path: 'no/such/folder' }, downstream: { phantom: {} } },
    });
    expect(problemsOf(raw, { checkData: true, baseDir: tmpdir() })).toEqual([
      expect.stringMatching(
        /^spec\.datasets\.pretrain\.path: dataset folder .*no\/such\/folder does not exist$/,
      ),
    ]);
    expect(problemsOf(raw, { checkData: false })).toEqual([]);
  });

  it("names a phantom's lesion range given high before low or out of (0, 1], and keeps names without one", () => {
    const phantom = (lesions: Record<string, unknown>) =>
      minimal({
        datasets: {
          pretrain: { phantom: { count: 20 } },
          downstream: { phantom: { count: 20, seed: 1, ...lesions } },
          imageSize: 64,
        },
      });
    expect(problemsOf(phantom({ lesionRadius: [0.3, 0.2] }))).toEqual([
      'spec.datasets.downstream.phantom.lesionRadius: range must be [low, high], got [0.3, 0.2]',
    ]);
    expect(problemsOf(phantom({ lesionContrast: [0, 1.5] }))).toEqual([
      expect.stringMatching(/^spec\.datasets\.downstream\.phantom\.lesionContrast\[0\]: /),
      expect.stringMatching(/^spec\.datasets\.downstream\.phantom\.lesionContrast\[1\]: /),
    ]);
    expect(problemsOf(phantom({ lesionRadius: [0.2] }))).toEqual([
      expect.stringMatching(/^spec\.datasets\.downstream\.phantom\.lesionRadius: /),
    ]);
    const subtle = phantom({ lesionRadius: [0.2, 0.3], lesionContrast: [0.05, 0.1] });
    expect(problemsOf(subtle)).toEqual([]);
    // No defaults are written into the spec: Sweeps without the fields keep their trial names.
    const [plain] = expandSweep(validateSweep(minimal()));
    expect(plain?.config.data.downstream.phantom).not.toHaveProperty('lesionRadius');
    const [changed] = expandSweep(validateSweep(subtle));
    expect(changed?.pretrainKey).toBe(plain?.pretrainKey);
    expect(changed?.name).not.toBe(plain?.name);
  });

  it('names unknown fields, wrong augmentation parameters, bad splits and both data sources', () => {
    const raw = minimal({
      grids: [
        {
          methods: ['spark'],
          masks: [{ type: 'random', ratios: [0.5] }],
          augmentations: [{ type: 'mixup', p: 0.3 }],
        },
      ],
      datasets: {
        pretrain: { phantom: {}, path: 'x' },
        downstream: { phantom: {} },
        imageSize: 64,
        splits: { train: 0.5, val: 0.1, test: 0.1 },
      },
    });
    expect(problemsOf(raw)).toEqual([
      'spec.datasets.splits: train + val + test must be 1, got 0.7',
      'spec.datasets.pretrain: give exactly one of path or phantom',
      "spec.grids[0].augmentations[0].p: augmentation 'mixup' takes alpha",
    ]);
    expect(problemsOf(minimal({ seed: [1] }))).toEqual(['spec.seed: unknown field']);
    expect(problemsOf({ ...minimal(), kind: 'Experiment' })).toEqual([
      'kind: must be "Sweep"; got "Experiment"',
    ]);
  });

  it('names a list given as a map and a map given as a list, instead of filling in the default', () => {
    // TypeBox's Value.Default turned `seeds: {a: 1}` into the default [0] (with a key `a`), which
    // passed; `masks: {constructor: 1}` passed the same way and then threw in the expansion.
    expect(problemsOf(minimal({ seeds: { a: 1 } }))).toEqual([
      'spec.seeds: expected array; got {"a":1}',
    ]);
    const masks = { constructor: 1 };
    expect(
      problemsOf(minimal({ grids: [{ methods: ['spark'], masks }] })).map((p) => p.split(';')[0]),
    ).toEqual(['spec.grids[0].masks: expected array']);
    expect(problemsOf(minimal({ objective: ['f1'] }))).toEqual([
      'spec.objective: expected object; got ["f1"]',
    ]);
  });

  it('reports a YAML syntax error and a bad field with their lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      'apiVersion: masksweep.io/v1alpha1\nkind: Sweep\nspec:\n  grids: [\n    methods: x\n',
    );
    expect(() => loadSweepFile(broken)).toThrow(SweepValidationError);
    expect(() => loadSweepFile(broken)).toThrow(/broken\.yaml:\d+:\d+: YAML syntax error/);

    const bad = join(dir, 'bad.yaml');
    const text = stringify(
      minimal({ grids: [{ methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.3] }] }] }),
    );
    writeFileSync(bad, text);
    const line = text.split('\n').findIndex((l) => l.includes('0.3')) + 1;
    expect(() => loadSweepFile(bad)).toThrow(
      new RegExp(
        `bad\\.yaml:${line}:\\d+: spec\\.grids\\[0\\]\\.masks\\[0\\]\\.ratios\\[0\\]: mesh ratio 0\\.3`,
      ),
    );
  });
});
