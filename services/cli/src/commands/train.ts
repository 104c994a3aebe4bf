import { join, resolve } from 'node:path';
import { expandSweep, loadSweepFile } from '@masksweep/api';
import { BACKEND_CHOICES, type BackendChoice, initBackend } from '@masksweep/backend';
import { progressReporter, runTrial } from '@masksweep/train';
import { Command } from 'commander';
import { UsageError } from '../options.js';

export function trainCommand(): Command {
  return new Command('train')
    .description(
      'run one trial of a Sweep here, in this process (pre-training, fine-tuning, evaluation)',
    )
    .argument('<sweep.yaml>', 'the Sweep')
    .option(
      '--trial <name>',
      'the trial (as `masksweep validate` lists it); optional when the Sweep has one',
    )
    .option('--out <dir>', 'where trial folders and the shared pre-training store go', '.masksweep')
    .option('--backend <name>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(', ')}`)
    .option('--skip-pretraining', 'fine-tune from random weights (the baseline)')
    .action(
      async (
        file: string,
        options: {
          trial?: string;
          out: string;
          backend?: BackendChoice;
          skipPretraining?: boolean;
        },
      ) => {
        const { sweep, baseDir } = loadSweepFile(file, { checkData: true });
        const trials = expandSweep(sweep);
        const trial = options.trial
          ? trials.find((t) => t.name === options.trial)
          : trials.length === 1
            ? trials[0]
            : undefined;
        if (!trial) {
          const names = trials.map((t) => t.name).join(', ');
          throw new UsageError(
            options.trial
              ? `${file} has no trial ${options.trial}; its trials: ${names}`
              : `${file} has ${trials.length} trials: name one with --trial (${names})`,
          );
        }
        const log = (line: string) => console.error(line);
        const backend = await initBackend({ backend: options.backend });
        log(`trial ${trial.name} on ${backend.name}: ${backend.reason}`);
        const out = resolve(options.out);
        const result = await runTrial({
          trial,
          baseDir,
          outDir: join(out, 'runs', trial.name),
          artifactDir: join(out, 'artifacts'),
          skipPretraining: options.skipPretraining,
          onStep: progressReporter(log),
          log,
        });
        const { f1, recall, precision } = result.test.intervals;
        const show = (i: typeof f1) =>
          `${(100 * i.estimate).toFixed(1)} [${(100 * i.low).toFixed(1)}, ${(100 * i.high).toFixed(1)}]`;
        console.log(
          `${trial.name}: validation F1 ${(100 * result.val.metrics.f1).toFixed(1)}; test F1 ${show(f1)}, recall ${show(recall)}, precision ${show(precision)} (95 % bootstrap)`,
        );
        console.log(`result: ${join(out, 'runs', trial.name, 'result.json')}`);
      },
    );
}
