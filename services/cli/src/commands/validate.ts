import {
  CONFIG_PARAMETER,
  type CountedExpansion,
  expandSweepCounted,
  loadSweepFile,
  type SweepResource,
  searchPlan,
} from '@masksweep/api';
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
      if (sweep.spec.search) {
        console.log(searchReport(file, sweep, options.format));
        return;
      }
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

/**
 * A search has no trials before its suggestions: what is shown is its budget, the grids'
 * configs it picks from and its space as the sampler sees it.
 */
function searchReport(file: string, sweep: SweepResource, format: 'text' | 'json'): string {
  const search = sweep.spec.search as NonNullable<SweepResource['spec']['search']>;
  const { space, baseConfigs } = searchPlan(sweep);
  const seeds = sweep.spec.seeds.length;
  const suggestions = (sweep.spec.maxTrials as number) / seeds;
  const configs = [...baseConfigs.values()].map((base) => ({
    configKey: base.configKey,
    method: base.config.method,
    grids: base.grids,
  }));
  if (format === 'json') {
    const { sampler, seed } = search;
    return JSON.stringify(
      { search: { sampler, seed, suggestions, seeds, configs, space } },
      null,
      2,
    );
  }
  const picks =
    configs.length > 1
      ? `${configs.length} configs of the grids (searched as the categorical '${CONFIG_PARAMETER}')`
      : 'the one config of the grids';
  return [
    `${file}: Sweep ${sweep.metadata.name} is valid`,
    `a ${search.sampler} search (seed ${search.seed}): ${sweep.spec.maxTrials} trials, ${suggestions} suggestions x ${seeds} seed${seeds > 1 ? 's' : ''}, over ${picks}`,
    '',
    table(
      ['PARAMETER', 'DISTRIBUTION', 'WHEN'],
      space.map((parameter) => [
        parameter.name,
        JSON.stringify(parameter.distribution),
        parameter.when ? `${parameter.when.param} in ${JSON.stringify(parameter.when.in)}` : '-',
      ]),
    ),
  ].join('\n');
}
