import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { inspectDataset } from './inspect.js';
import { SUSPECT_REASON } from './labels.js';
import { writePhantomDataset } from './phantom.js';

const SHARED_DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const HEAD_CT = join(SHARED_DATA, 'head-ct-hemorrhage');
const BRAIN_CT = join(SHARED_DATA, 'brain-ct-3class');
const dir = mkdtempSync(join(tmpdir(), 'masksweep-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

describe('inspectDataset', () => {
  it('reports classes, sizes, formats and the undecodable files of a folder', async () => {
    const folder = join(dir, 'phantoms');
    await writePhantomDataset(folder, { count: 6, size: 24, seed: 2, patients: 2 });
    writeFileSync(join(folder, 'bad.png'), 'no image here');
    writeFileSync(
      join(folder, 'labels.csv'),
      `${readFileSync(join(folder, 'labels.csv'), 'utf8')}bad.png,1,lesion,p1\n`,
    );
    const report = await inspectDataset(folder);
    expect(report).toMatchObject({
      labelColumn: 'label',
      groupColumn: 'patient',
      groups: 2,
      rows: 7,
      usable: 6,
    });
    expect(report.classes).toEqual([
      {
        label: 0,
        classNames: ['normal'],
        count: 3,
        width: { min: 24, median: 24, max: 24 },
        height: { min: 24, median: 24, max: 24 },
      },
      {
        label: 1,
        classNames: ['lesion'],
        count: 3,
        width: { min: 24, median: 24, max: 24 },
        height: { min: 24, median: 24, max: 24 },
      },
    ]);
    expect(report.formats).toEqual([{ channels: 1, space: 'b-w', hasAlpha: false, count: 6 }]);
    expect(report.skipped).toHaveLength(1);
    expect(report.skipped[0]?.path).toBe('bad.png');
    expect(report.skipped[0]?.reason).toMatch(/cannot decode .*bad\.png/);
  });

  it('needs a label column or a class_name column', async () => {
    const folder = join(dir, 'unlabelled');
    await writePhantomDataset(folder, { count: 2, size: 16, seed: 1 });
    writeFileSync(join(folder, 'labels.csv'), 'path,patient\nimages/lesion/0.png,p0\n');
    await expect(inspectDataset(folder)).rejects.toThrow(
      /no label column .*columns found: path, patient/,
    );
  });
});

describe.skipIf(!existsSync(HEAD_CT))(
  `inspectDataset on ${HEAD_CT} (skipped when that folder is absent)`,
  () => {
    it('finds 100 + 100 images, their original sizes per class and the RGBA files', async () => {
      const report = await inspectDataset(HEAD_CT);
      // The folder's labels.csv records each file's size and mode: an independent account.
      const csv = parseCsv(readFileSync(join(HEAD_CT, 'labels.csv'), 'utf8'), 'labels.csv');
      const column = (name: string) => csv.header.indexOf(name);
      const recorded = (label: string, name: string) =>
        csv.rows
          .filter((row) => row.values[column('label')] === label)
          .map((row) => Number(row.values[column(name)]));
      expect(report.usable).toBe(200);
      expect(report.skipped).toEqual([]);
      expect(
        report.classes.map(({ label, classNames, count }) => ({ label, classNames, count })),
      ).toEqual([
        { label: 0, classNames: ['normal'], count: 100 },
        { label: 1, classNames: ['hemorrhage'], count: 100 },
      ]);
      for (const [index, label] of ['0', '1'].entries()) {
        const widths = recorded(label, 'width');
        const heights = recorded(label, 'height');
        expect(report.classes[index]?.width).toEqual({
          min: Math.min(...widths),
          median: median(widths),
          max: Math.max(...widths),
        });
        expect(report.classes[index]?.height).toEqual({
          min: Math.min(...heights),
          median: median(heights),
          max: Math.max(...heights),
        });
      }
      const rgba = csv.rows.filter((row) => row.values[column('mode')] === 'RGBA').length;
      expect(report.formats).toEqual([
        { channels: 3, space: 'srgb', hasAlpha: false, count: 200 - rgba },
        { channels: 4, space: 'srgb', hasAlpha: true, count: rgba },
      ]);
    });
  },
);

describe.skipIf(!existsSync(BRAIN_CT))(
  `inspectDataset on ${BRAIN_CT} (skipped when that folder is absent)`,
  () => {
    it('groups by class_name without a label column and skips the 7 suspect images', async () => {
      const report = await inspectDataset(BRAIN_CT);
      expect(report.labelColumn).toBeUndefined();
      expect(report.rows).toBe(259);
      expect(report.usable).toBe(252);
      expect(report.skipped).toHaveLength(7);
      expect(report.skipped.every((file) => file.reason === SUSPECT_REASON)).toBe(true);
      const suspects = report.skipped.map((file) => file.path.split('/')[1]);
      expect(
        report.classes.map(({ label, classNames, count }) => ({ label, classNames, count })),
      ).toEqual([
        {
          label: undefined,
          classNames: ['aneurysm'],
          count: 84 - suspects.filter((c) => c === 'aneurysm').length,
        },
        {
          label: undefined,
          classNames: ['cancer'],
          count: 91 - suspects.filter((c) => c === 'cancer').length,
        },
        { label: undefined, classNames: ['tumor'], count: 84 },
      ]);
      expect(report.classes.every((c) => c.width.min === 512 && c.height.max === 512)).toBe(true);
    });

    it('merges class names under the label column it is given', async () => {
      const report = await inspectDataset(BRAIN_CT, { labelColumn: 'label_tumor_or_cancer' });
      expect(report.labelColumn).toBe('label_tumor_or_cancer');
      expect(
        report.classes.map(({ label, classNames, count }) => ({ label, classNames, count })),
      ).toEqual([
        { label: 0, classNames: ['aneurysm'], count: 80 },
        { label: 1, classNames: ['cancer', 'tumor'], count: 172 },
      ]);
    });
  },
);
