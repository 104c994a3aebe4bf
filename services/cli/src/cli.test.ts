import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const sharedData = join(repo, '../shared/data');
const bin = join(repo, 'services/cli/bin/masksweep.js');

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args) => void err.push(args.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

/** `run('masks sample --count 2', file)`: the words of the command, then arguments that may hold spaces. */
async function run(command: string, ...paths: string[]) {
  const code = await main([...command.split(' '), ...paths]);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('masksweep validate', () => {
  it("prints 33 trials and 16 pretraining keys for the paper's Sweep", async () => {
    const { code, stdout } = await run(
      'validate',
      join(repo, 'k8s/examples/paper.yaml'),
      '--no-check-data',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /33 trials \(33 per seed, 1 seed\), 16 pretraining keys \(16 per seed, 1 seed\)/,
    );
    expect(stdout.split('\n').filter((l) => l.startsWith('paper-'))).toHaveLength(33);
  });

  it('fails with the file, line and field of each problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-'));
    const file = join(dir, 'bad.yaml');
    const paper = readFileSync(join(repo, 'k8s/examples/paper.yaml'), 'utf8');
    writeFileSync(file, paper.replace('type: mesh,', 'type: meshy,'));
    const line = paper.split('\n').findIndex((l) => l.includes('type: mesh,')) + 1;
    const { code, stderr } = await run('validate', file, '--no-check-data');
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `bad\\.yaml:${line}:\\d+: spec\\.grids\\[1\\]\\.masks\\[3\\]\\.type: must be one of random, mesh, square, blockwise; got "meshy"`,
      ),
    );
  });

  it('shows a search: its budget and space; each bad field on its own line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-search-'));
    const quick = readFileSync(join(repo, 'examples/quick.yaml'), 'utf8');
    const write = (name: string, parameters: string) => {
      const file = join(dir, name);
      writeFileSync(file, `${quick}  maxTrials: 20\n  search:\n    parameters:\n${parameters}`);
      return file;
    };
    const good = write(
      'search.yaml',
      [
        '      - { path: finetune.lr, float: { low: 1.0e-5, high: 1.0e-2, log: true } }',
        '      - { path: mask.ratio, float: { low: 0.5, high: 0.8, step: 0.1 }, when: { method: [spark] } }',
        '',
      ].join('\n'),
    );
    const shown = await run('validate', good);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /a tpe search \(seed 0\): 20 trials, 10 suggestions x 2 seeds, over 3 configs of the grids/,
    );
    expect(shown.stdout).toMatch(/^mask\.ratio .*config in \["cfg-/m);
    err = [];
    const bad = write(
      'bad.yaml',
      [
        '      - { path: finetune.lr, float: { low: 0.1, high: 0.01 } }',
        '      - { path: model.dropPath, float: { low: 0, high: 0.5, log: true } }',
        '      - { path: finetune.epochs, float: { low: 1, high: 10 } }',
        '',
      ].join('\n'),
    );
    const refused = await run('validate', bad);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /bad\.yaml:\d+:\d+: spec\.search\.parameters\[0\]\.float\.high: must be greater than low/,
    );
    expect(lines[1]).toMatch(
      /spec\.search\.parameters\[1\]\.float\.low: must be > 0 for a log distribution, got 0$/,
    );
    expect(lines[2]).toMatch(
      /spec\.search\.parameters\[2\]\.float: finetune\.epochs takes integers/,
    );
  });

  it('refuses a missing file and bad usage with distinct exit codes', async () => {
    expect((await run('validate', '/no/such/sweep.yaml')).code).toBe(1);
    expect(err.join('\n')).toMatch(/\/no\/such\/sweep\.yaml: cannot read/);
    expect((await run('validate x.yaml --format xml')).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
  });
});

/** The grids `masks sample ... --format json` prints. */
async function sampleJson(options: string): Promise<number[][][]> {
  out = [];
  expect((await run(`masks sample ${options} --format json`)).code).toBe(0);
  return JSON.parse(out.join(''));
}

describe('masksweep masks', () => {
  it('samples grids of 0/1 with the specified masked count, the same for the same seed', async () => {
    const grids = await sampleJson('--type mesh --ratio 0.7 --count 5 --seed 3');
    expect(grids).toHaveLength(5);
    for (const grid of grids) {
      expect(grid).toHaveLength(7);
      expect(grid.every((row) => row.length === 7 && row.every((c) => c === 0 || c === 1))).toBe(
        true,
      );
      expect(grid.flat().filter((c) => c === 1)).toHaveLength(34);
    }
    expect(await sampleJson('--type mesh --ratio 0.7 --count 5 --seed 3')).toEqual(grids);
  });

  it('takes square sizes, other grids and generator options', async () => {
    for (const grid of await sampleJson('--type square --size 2 --grid 4 --count 3')) {
      expect(grid.flat().filter(Boolean)).toHaveLength(4);
    }
    const [filled] = await sampleJson('--type mesh --ratio 0.4 --option overflow=fillOther');
    expect(filled?.flat().filter((c) => c === 0)).toHaveLength(29);
  });

  it('names the bad option', async () => {
    const { code, stderr } = await run('masks sample --type mesh --ratio 0.4');
    expect(code).toBe(1);
    expect(stderr).toMatch(/ratio: mesh ratio 0\.4 keeps 29 patches visible/);
    expect((await run('masks sample --type star')).stderr).toMatch(/unknown mask type 'star'/);
    expect((await run('masks sample --type random --count many')).code).toBe(2);
  });

  it('renders a mask over a slice: masked patches gray, visible ones the slice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'));
    const slice = join(dir, 'slice.png');
    // a horizontal gradient, so a visible patch keeps its own values
    const pixels = Buffer.alloc(224 * 224, 0).map((_, i) => i % 224);
    await sharp(pixels, { raw: { width: 224, height: 224, channels: 1 } })
      .png()
      .toFile(slice);
    const picture = join(dir, 'out.png');
    const { code } = await run(
      'masks',
      'render',
      '--type',
      'square',
      '--size',
      '3',
      '--option',
      'placement=center',
      '--image',
      slice,
      '--out',
      picture,
    );
    expect(code).toBe(0);
    const { data, info } = await sharp(picture).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([224, 224, 3]);
    const at = (x: number, y: number) => [
      ...data.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3),
    ];
    expect(at(112, 112)).not.toEqual([112, 112, 112]); // the centre patch is masked
    expect(at(10, 10)).toEqual([10, 10, 10]); // a corner patch is visible
  });
});

describe('masksweep data phantom', () => {
  it('writes phantoms with the lesion options and refuses a bad range with exit code 2', async () => {
    const out = mkdtempSync(join(tmpdir(), 'phantom-'));
    const written = await run(
      'data phantom --count 4 --size 32 --lesion-radius 0.2,0.3 --lesion-contrast 0.05,0.1 --out',
      out,
    );
    expect(written).toMatchObject({ code: 0, stdout: `wrote 4 phantom slices of 32 px to ${out}` });
    expect(readFileSync(join(out, 'labels.csv'), 'utf8').split('\n')).toHaveLength(6);
    const reversed = await run('data phantom --lesion-radius 0.3,0.2 --out', out);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toMatch(/^masksweep: phantom lesionRadius must be \[low, high\]/);
    const malformed = await run('data phantom --lesion-contrast 0.1 --out', out);
    expect(malformed).toMatchObject({ code: 2 });
    expect(malformed.stderr).toMatch(
      /--lesion-contrast takes low,high \(two numbers\), got '0\.1'/,
    );
  });
});

describe.skipIf(!existsSync(sharedData))('masksweep data inspect on the real CT sets', () => {
  it('reports head-ct-hemorrhage: 100 + 100, sizes per class', async () => {
    const { code, stdout } = await run('data', 'inspect', join(sharedData, 'head-ct-hemorrhage'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/200 usable of 200 rows, 0 skipped/);
    expect(stdout).toMatch(/^0\s+normal\s+100\s/m);
    expect(stdout).toMatch(/^1\s+hemorrhage\s+100\s/m);
  });

  it('reports brain-ct-3class with its 7 suspect files skipped', async () => {
    const { code, stdout } = await run(
      'data',
      'inspect',
      join(sharedData, 'brain-ct-3class'),
      '--label-column',
      'label_tumor_or_cancer',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/252 usable of 259 rows, 7 skipped/);
    expect(stdout).toMatch(/images\/cancer\/175\.png: listed in suspect_images\.txt/);
  });
});

describe('the built binary', () => {
  it('keeps the external JSON forms of validate and masks sample', () => {
    const validate = JSON.parse(
      execFileSync(
        process.execPath,
        [
          bin,
          'validate',
          join(repo, 'k8s/examples/paper.yaml'),
          '--no-check-data',
          '--format',
          'json',
        ],
        { encoding: 'utf8' },
      ),
    );
    expect(Object.keys(validate)).toEqual(['trials']);
    expect(validate.trials).toHaveLength(33);
    expect(Object.keys(validate.trials[0])).toEqual(['name', 'seed', 'pretrainKey', 'config']);
    // A scratch trial has no key: the field is left out, not empty.
    const scratch = validate.trials.find(
      (t: { config: { method: string } }) => t.config.method === 'scratch',
    );
    expect(Object.keys(scratch)).toEqual(['name', 'seed', 'config']);
    const masks = JSON.parse(
      execFileSync(
        process.execPath,
        [
          bin,
          'masks',
          'sample',
          '--type',
          'random',
          '--ratio',
          '0.5',
          '--count',
          '4',
          '--seed',
          '1',
          '--format',
          'json',
        ],
        { encoding: 'utf8' },
      ),
    );
    expect(masks.map((g: number[][]) => g.flat().filter((c) => c === 1).length)).toEqual([
      25, 25, 25, 25,
    ]);
  });
});
