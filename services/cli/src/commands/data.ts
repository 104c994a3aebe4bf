import {
  type DatasetReport,
  inspectDataset,
  LESION_DEFAULTS,
  type SizeSummary,
  writePhantomDataset,
} from '@masksweep/data';
import { Command } from 'commander';
import { parseFormat, parseInteger, parseNumber, parseRange, UsageError } from '../options.js';
import { table } from '../table.js';

export function dataCommand(): Command {
  const data = new Command('data').description('look at datasets and make synthetic ones');

  data
    .command('inspect')
    .description('counts per class, image sizes and layouts, and the files a loader skips')
    .argument('<folder>', 'a folder with labels.csv')
    .option('--label-column <name>', 'the label column (default: label, else class_name)')
    .option('--group-column <name>', 'the patient/group column (default: patient or group)')
    .option('--format <text|json>', 'output format', parseFormat(['text', 'json'] as const), 'text')
    .action(
      async (
        folder: string,
        options: { labelColumn?: string; groupColumn?: string; format: 'text' | 'json' },
      ) => {
        const report = await inspectDataset(folder, {
          labelColumn: options.labelColumn,
          groupColumn: options.groupColumn,
        });
        console.log(
          options.format === 'json' ? JSON.stringify(report, null, 2) : formatReport(report),
        );
      },
    );

  data
    .command('phantom')
    .description('write a synthetic CT-like phantom set (lesions on positives) with labels.csv')
    .requiredOption('--out <folder>', 'where to write it')
    .option('--count <n>', 'slices', parseInteger('--count', 1), 200)
    .option('--size <px>', 'slice side in px', parseInteger('--size', 16), 128)
    .option('--seed <s>', 'random seed', parseInteger('--seed', 0), 0)
    .option(
      '--positive-fraction <f>',
      'share of slices with lesions',
      parseNumber('--positive-fraction'),
      0.5,
    )
    .option(
      '--lesion-radius <low,high>',
      "each lesion's radius, as a fraction of the brain's smaller semi-axis",
      parseRange('--lesion-radius'),
      [...LESION_DEFAULTS.lesionRadius],
    )
    .option(
      '--lesion-contrast <low,high>',
      'gray level each lesion adds to the tissue at its centre (tissue ~0.45)',
      parseRange('--lesion-contrast'),
      [...LESION_DEFAULTS.lesionContrast],
    )
    .action(
      async (options: {
        out: string;
        count: number;
        size: number;
        seed: number;
        positiveFraction: number;
        lesionRadius: [number, number];
        lesionContrast: [number, number];
      }) => {
        try {
          await writePhantomDataset(options.out, options);
        } catch (error) {
          // Its options are checked by the phantom writer, which names the one at fault.
          if (error instanceof RangeError) throw new UsageError(error.message);
          throw error;
        }
        console.log(
          `wrote ${options.count} phantom slices of ${options.size} px to ${options.out}`,
        );
      },
    );

  return data;
}

function formatReport(report: DatasetReport): string {
  const size = (s: SizeSummary) => `${s.min}/${s.median}/${s.max}`;
  const lines = [
    `${report.folder}: ${report.usable} usable of ${report.rows} rows, ${report.skipped.length} skipped`,
    `label column: ${report.labelColumn ?? '(none: classes by class_name)'}` +
      (report.groupColumn ? `, group column: ${report.groupColumn} (${report.groups} groups)` : ''),
    '',
    table(
      ['LABEL', 'CLASS', 'COUNT', 'WIDTH min/median/max', 'HEIGHT min/median/max'],
      report.classes.map((c) => [
        c.label === undefined ? '-' : String(c.label),
        c.classNames.join(','),
        String(c.count),
        size(c.width),
        size(c.height),
      ]),
    ),
    '',
    table(
      ['CHANNELS', 'SPACE', 'ALPHA', 'FILES'],
      report.formats.map((f) => [
        String(f.channels),
        f.space,
        f.hasAlpha ? 'yes' : 'no',
        String(f.count),
      ]),
    ),
  ];
  if (report.skipped.length > 0) {
    lines.push(
      '',
      `skipped ${report.skipped.length}:`,
      ...report.skipped.map((s) => `  ${s.path}: ${s.reason}`),
    );
  }
  return lines.join('\n');
}
