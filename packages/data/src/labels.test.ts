import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readLabels, SUSPECT_REASON } from './labels.js';

const SHARED_DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const HEAD_CT = join(SHARED_DATA, 'head-ct-hemorrhage');
const BRAIN_CT = join(SHARED_DATA, 'brain-ct-3class');

const folders: string[] = [];
function datasetFolder(files: Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), 'masksweep-labels-'));
  folders.push(folder);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('readLabels', () => {
  it('reads paths, labels, class names and patients', () => {
    const folder = datasetFolder({
      'labels.csv': 'path,label,class_name,patient\n./a/1.png,1,lesion,p1\na/2.png,0,normal,p2\n',
    });
    const table = readLabels(folder);
    expect(table.folder).toBe(folder);
    expect(table.skipped).toEqual([]);
    expect(table.samples).toEqual([
      { id: 'a/1.png', path: join(folder, 'a/1.png'), label: 1, className: 'lesion', group: 'p1' },
      { id: 'a/2.png', path: join(folder, 'a/2.png'), label: 0, className: 'normal', group: 'p2' },
    ]);
  });

  it('takes the label and group columns it is told to, and a group column named group', () => {
    const folder = datasetFolder({ 'labels.csv': 'path,tumour,group,scan\nx.png,2,g1,s1\n' });
    expect(readLabels(folder, { labelColumn: 'tumour' }).samples[0]).toMatchObject({
      label: 2,
      group: 'g1',
    });
    expect(
      readLabels(folder, { labelColumn: 'tumour', groupColumn: 'scan' }).samples[0]?.group,
    ).toBe('s1');
    expect(() => readLabels(folder, { labelColumn: 'tumour', groupColumn: 'site' })).toThrow(
      /no column 'site'; columns found: path, tumour, group, scan/,
    );
  });

  it('leaves group and class name out when the columns are absent or the cell is empty', () => {
    const folder = datasetFolder({ 'labels.csv': 'path,label,patient\nx.png,0,\n' });
    const [sample] = readLabels(folder).samples;
    expect(sample).not.toHaveProperty('group');
    expect(sample).not.toHaveProperty('className');
  });

  it('names the file and the columns found when there is no label column', () => {
    const folder = datasetFolder({ 'labels.csv': 'path,diagnosis\nx.png,1\n' });
    expect(() => readLabels(folder)).toThrow(join(folder, 'labels.csv'));
    expect(() => readLabels(folder)).toThrow(/columns found: path, diagnosis/);
  });

  it('refuses a file without a path column', () => {
    const folder = datasetFolder({ 'labels.csv': 'file,label\nx.png,1\n' });
    expect(() => readLabels(folder)).toThrow(/no column 'path'; columns found: file, label/);
  });

  it.each(['-1', '1.5', 'yes', ''])('names file, line and value of the label %j', (value) => {
    const folder = datasetFolder({ 'labels.csv': `path,label\na.png,0\nb.png,${value}\n` });
    expect(() => readLabels(folder)).toThrow(
      `${join(folder, 'labels.csv')} line 3: label '${value}' is not an integer >= 0`,
    );
  });

  it('refuses paths that leave the folder and paths listed twice', () => {
    const outside = datasetFolder({ 'labels.csv': 'path,label\n../x.png,0\n' });
    expect(() => readLabels(outside)).toThrow(/line 2: path '..\/x.png' must be relative/);
    const twice = datasetFolder({ 'labels.csv': 'path,label\nx.png,0\n./x.png,1\n' });
    expect(() => readLabels(twice)).toThrow(/line 3: 'x.png' is listed twice \(first on line 2\)/);
  });

  it('skips the files named in suspect_images.txt and says why', () => {
    const folder = datasetFolder({
      'labels.csv': 'path,label\na.png,0\nb.png,1\nc.png,1\n',
      'suspect_images.txt': '# blank images\nb.png\n\n./c.png  # over-exposed\nnot-listed.png\n',
    });
    const table = readLabels(folder);
    expect(table.samples.map((sample) => sample.id)).toEqual(['a.png']);
    expect(table.skipped).toEqual([
      { path: 'b.png', reason: SUSPECT_REASON },
      { path: 'c.png', reason: SUSPECT_REASON },
    ]);
    expect(SUSPECT_REASON).toBe('listed in suspect_images.txt');
  });

  it('names the missing folder or labels file', () => {
    const missing = join(tmpdir(), 'masksweep-no-such-folder');
    expect(() => readLabels(missing)).toThrow(`dataset folder not found: ${missing}`);
    const empty = datasetFolder({});
    mkdirSync(join(empty, 'images'));
    expect(() => readLabels(empty)).toThrow(`labels file not found: ${join(empty, 'labels.csv')}`);
  });
});

describe.skipIf(!existsSync(HEAD_CT))(
  `readLabels on ${HEAD_CT} (skipped when that folder is absent)`,
  () => {
    it('reads 200 images, 100 per class, with CRLF line ends', () => {
      const table = readLabels(HEAD_CT);
      expect(table.samples).toHaveLength(200);
      expect(table.samples.filter((sample) => sample.label === 1)).toHaveLength(100);
      expect(table.samples.every((sample) => existsSync(sample.path))).toBe(true);
      expect(new Set(table.samples.map((s) => s.className))).toEqual(
        new Set(['hemorrhage', 'normal']),
      );
    });
  },
);

describe.skipIf(!existsSync(BRAIN_CT))(
  `readLabels on ${BRAIN_CT} (skipped when that folder is absent)`,
  () => {
    it('needs the label column named, and skips the 7 suspect images', () => {
      expect(() => readLabels(BRAIN_CT)).toThrow(/columns found: path, label_tumor_or_cancer/);
      const table = readLabels(BRAIN_CT, { labelColumn: 'label_tumor_or_cancer' });
      expect(table.samples).toHaveLength(252);
      expect(table.skipped).toHaveLength(7);
      expect(table.skipped.every((file) => file.reason === SUSPECT_REASON)).toBe(true);
      expect(table.skipped.map((file) => file.path)).toContain('images/cancer/175.png');
    });
  },
);
