import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { LocalExecutor } from './local-executor.js';
import { runLocalSweep } from './local-sweep.js';
import { initialState } from './reconcile.js';
import { countSweep } from './state.js';

/**
 * A trial-runner that trains nothing: pre-training leaves weights.bin in the store,
 * fine-tuning writes the result.json it is given for the trial (both splits, as
 * @masksweep/train writes them).
 */
function scriptedTrialRunner(dir: string, results: Record<string, unknown>): string {
  const file = join(dir, 'scripted-trial.mjs');
  writeFileSync(
    file,
    `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const arg = (flag) => process.argv[process.argv.indexOf(flag) + 1];
const trial = JSON.parse(readFileSync(arg('--config'), 'utf8'));
if (arg('--stage') === 'pretrain') {
  const run = join(arg('--artifacts'), 'pretrain', trial.pretrainKey);
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'weights.bin'), '');
} else {
  const results = ${JSON.stringify(results)};
  writeFileSync(join(arg('--out'), 'result.json'), JSON.stringify(results[trial.name]));
}
`,
  );
  return file;
}

describe('runLocalSweep', () => {
  it("chooses the best trial on result.json's validation metrics: the best test F1 with a worse validation F1 is not best", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-sweep-'));
    const sweep = validateSweep(
      tinySweep('choose', { augmentations: [{ type: 'none' }, { type: 'randomFlip' }] }),
    );
    const state = initialState(sweep, dir);
    const [bestOnTest, bestOnValidation] = Object.keys(state.trials) as [string, string];
    const result = (val: number, test: number) => ({
      val: { metrics: { f1: val, macroF1: val } },
      test: { metrics: { f1: test, macroF1: test } },
    });
    const workDir = join(dir, 'work');
    const executor = new LocalExecutor({
      workDir,
      trialRunner: scriptedTrialRunner(dir, {
        [bestOnTest]: result(0.6, 0.95),
        [bestOnValidation]: result(0.9, 0.7),
      }),
      baseDir: dir,
      namespace: 'default',
      sweep: 'choose',
    });

    const final = await runLocalSweep(state, { sweep, baseDir: dir, workDir, executor });
    expect(final.phase).toBe('Succeeded');
    expect(countSweep(final).best).toEqual({ trial: bestOnValidation, objective: 0.9 });
    expect(final.trials[bestOnTest]?.objective).toBe(0.6);
  }, 30_000);
});
