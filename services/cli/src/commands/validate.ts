import { type CountedExpansion, expandSweepCounted, loadSweepFile } from '@masksweep/api';
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
      const expansion = expandSweepCounted(sweep);
      const { trials } = expansion;
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
        summary(file, sweep.metadata.name, expansion, sweep.spec.seeds, sweep.spec.maxTrials),
      );
      console.log();
      console.log(trialTable(trials));
    });
}

function summary(
  file: string,
  name: string,
  { trials, counted, truncated }: CountedExpansion,
  seeds: number[],
  maxTrials?: number,
): string {
  const keys = new Set(trials.flatMap((t) => t.pretrainKey ?? [])).size;
  const valid = `${file}: Sweep ${name} is valid`;
  if (truncated) {
    // The grids were counted, not built: only the trials that run exist.
    return [
      valid,
      `the grids give ${counted} trials before duplicates are removed; maxTrials is ${maxTrials}: the first ${trials.length} run, with ${keys} pretraining keys`,
    ].join('\n');
  }
  const seedCount = `${seeds.length} seed${seeds.length > 1 ? 's' : ''}`;
  const perSeed = (count: number) => ` (${count / seeds.length} per seed, ${seedCount})`;
  return [
    valid,
    `${trials.length} trials${perSeed(trials.length)}, ${keys} pretraining keys${perSeed(keys)}`,
  ].join('\n');
}

function trialTable(trials: CountedExpansion['trials']): string {
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
