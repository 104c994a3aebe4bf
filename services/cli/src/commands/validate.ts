import { expandSweep, loadSweepFile, type Trial } from '@masksweep/api';
import { maskLabel } from '@masksweep/masks';
import { Command } from 'commander';
import { parseFormat } from '../options.js';
import { table } from '../table.js';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check a Sweep file and list the trials and pre-training runs it expands to')
    .argument('<sweep.yaml>', 'a Sweep resource (apiVersion masksweep.io/v1alpha1, kind Sweep)')
    .option('--format <text|json>', 'output format', parseFormat(['text', 'json'] as const), 'text')
    .option('--no-check-data', 'do not look for dataset folders here (paths in a cluster volume)')
    .action((file: string, options: { format: 'text' | 'json'; checkData: boolean }) => {
      const { sweep } = loadSweepFile(file, { checkData: options.checkData });
      const trials = expandSweep(sweep);
      if (options.format === 'json') {
        // A scratch trial has no pretrainKey: the field is left out, as the trial-runner reads it.
        const rows = trials.map(({ name, seed, pretrainKey, config }) => ({
          name,
          seed,
          ...(pretrainKey !== undefined && { pretrainKey }),
          config,
        }));
        console.log(JSON.stringify({ trials: rows }, null, 2));
        return;
      }
      console.log(
        summary(file, sweep.metadata.name, trials, sweep.spec.seeds, sweep.spec.maxTrials),
      );
      console.log();
      console.log(trialTable(trials));
    });
}

function summary(
  file: string,
  name: string,
  trials: Trial[],
  seeds: number[],
  maxTrials?: number,
): string {
  const keys = new Set(trials.flatMap((t) => t.pretrainKey ?? [])).size;
  const seedCount = `${seeds.length} seed${seeds.length > 1 ? 's' : ''}`;
  const perSeed = (count: number) => ` (${count / seeds.length} per seed, ${seedCount})`;
  const lines = [
    `${file}: Sweep ${name} is valid`,
    `${trials.length} trials${perSeed(trials.length)}, ${keys} pretraining keys${perSeed(keys)}`,
  ];
  if (maxTrials !== undefined && maxTrials < trials.length) {
    lines.push(`maxTrials is ${maxTrials}: only the first ${maxTrials} trials will run`);
  }
  return lines.join('\n');
}

function trialTable(trials: Trial[]): string {
  return table(
    ['TRIAL', 'METHOD', 'MASK', 'AUGMENTATION', 'SEED', 'PRETRAIN KEY'],
    trials.map((t) => [
      t.name,
      t.config.method,
      t.config.mask ? maskLabel(t.config.mask) : '-',
      t.config.augmentation.type,
      String(t.seed),
      t.pretrainKey ?? '-',
    ]),
  );
}
