/**
 * `masksweep run <sweep.yaml>`: the main job on one machine. Starts nats-server (unless
 * --nats), the leaderboard in this process with its web view, and the controller with the
 * local executor; shows each stage and trial as it goes (on a terminal, with a live bar per
 * running workload); prints the leaderboard and exits 0 when the sweep succeeded. Its state
 * is in --work-dir: running it again resumes.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import {
  CONFIG_PARAMETER,
  canonicalJson,
  loadSweepFile,
  type SampledTrial,
  validationMetricName,
} from '@masksweep/api';
import {
  countSweep,
  LocalExecutor,
  loadState,
  runLocalSweep,
  type SweepState,
  type TrialState,
} from '@masksweep/controller';
import { score, startLeaderboard } from '@masksweep/leaderboard';
import { maskLabel } from '@masksweep/masks';
import { startNatsServer } from '@masksweep/process';
import { Command } from 'commander';
import { paperReport } from '../paper-report.js';
import { duration, type LiveProgress, startLiveProgress } from '../progress.js';
import { table } from '../table.js';

export function runCommand(): Command {
  return new Command('run')
    .description('run a Sweep on this machine: every trial, with live metrics and a leaderboard')
    .argument('<sweep.yaml>', 'the Sweep')
    .option(
      '--work-dir <dir>',
      'state, trial folders, logs, artifacts and the leaderboard (default .masksweep/<sweep>)',
    )
    .option('--nats <url>', 'an existing NATS server (default: start nats-server here)')
    .option('--http-port <port>', 'port of the web view (default: any free one)', '0')
    .option('--backend <name>', 'TensorFlow.js backend of the trials')
    .option('--keep-open', 'keep serving the web view after the sweep, until Ctrl-C')
    .action(
      async (
        file: string,
        options: {
          workDir?: string;
          nats?: string;
          httpPort: string;
          backend?: string;
          keepOpen?: boolean;
        },
      ) => {
        const { sweep, baseDir } = loadSweepFile(file, { checkData: true });
        const name = sweep.metadata.name;
        const namespace = sweep.metadata.namespace ?? 'default';
        const workDir = resolve(options.workDir ?? join('.masksweep', name));
        const state = loadState(workDir, sweep, baseDir);
        // On a terminal, lines go above the live block; elsewhere they are the whole output.
        let live: LiveProgress | undefined;
        const log = (line: string) => {
          const text = `[${duration(Date.now() - state.startedAt)}] ${line}`;
          if (live) live.print(text);
          else console.log(text);
        };

        const nats = options.nats ? undefined : await startLocalNats(join(workDir, 'nats'), log);
        const natsUrl = options.nats ?? nats?.url;
        const token = randomBytes(32).toString('hex');
        const leaderboard = await startLeaderboard({
          database: join(workDir, 'leaderboard.db'),
          token,
          natsUrl,
          httpPort: Number(options.httpPort),
          artifactsDir: join(workDir, 'trials'),
        });
        leaderboard.store.registerSweep({
          namespace,
          sweep: name,
          specJson: canonicalJson(sweep),
          trialCount: countSweep(state).planned,
        });
        const counts = countSweep(state);
        const { search, seeds, maxTrials = 0 } = sweep.spec;
        log(
          search
            ? `sweep ${name}: a ${search.sampler} search (seed ${search.seed}) of ${maxTrials} trials, ${maxTrials / seeds.length} suggestions x ${seeds.length} seeds, parallelism ${sweep.spec.parallelism}`
            : `sweep ${name}: ${counts.total} trials, ${counts.pretrainings.total} pre-training runs, parallelism ${sweep.spec.parallelism}`,
        );
        const url = `${leaderboard.webUrl}/sweeps/${namespace}/${name}`;
        log(`leaderboard: ${url}  (work dir ${workDir})`);

        const executor = new LocalExecutor({
          workDir,
          trialRunner: createRequire(import.meta.url).resolve(
            '@masksweep/trial-runner/bin/masksweep-trial.js',
          ),
          baseDir,
          namespace,
          sweep: name,
          natsUrl,
          leaderboard: { address: `127.0.0.1:${leaderboard.grpcPort}`, token },
          backend: options.backend,
          onChange: () => {},
        });
        const stop = new AbortController();
        const interrupt = () => {
          log('stopping: running workloads end now, the next `masksweep run` resumes them');
          stop.abort();
        };
        process.once('SIGINT', interrupt);
        if (process.stdout.isTTY) {
          live = startLiveProgress({
            out: process.stdout,
            state,
            namespace,
            points: leaderboard.store,
            url,
          });
        }
        let last = '';
        let final: SweepState;
        try {
          final = await runLocalSweep(state, {
            sweep,
            baseDir,
            workDir,
            executor,
            signal: stop.signal,
            natsUrl,
            onPrune: (trial, step) => log(`pruned ${trial} at fine-tuning step ${step}`),
            onStart: (w) => {
              live?.started(w);
              log(
                `started ${w.stage === 'pretrain' ? `pre-training ${w.trial.pretrainKey}` : `fine-tuning ${w.trial.name}`} (attempt ${w.attempt}; log ${executor.logFile(w)})`,
              );
            },
            onEnd: ({ workload: w, reason, message }) => {
              live?.ended(w);
              log(
                `${w.stage === 'pretrain' ? `pre-training ${w.trial.pretrainKey}` : `fine-tuning ${w.trial.name}`}: ${reason}${reason === 'Completed' ? '' : ` (${message})`}`,
              );
            },
            onPass: (s) => {
              // The live block shows the same, kept up to date.
              if (live) return;
              const line = progressLine(s);
              if (line !== last) log(line);
              last = line;
            },
          });
        } finally {
          process.removeListener('SIGINT', interrupt);
          await executor.stopAll();
          live?.stop();
          live = undefined;
        }
        console.log(`\n${resultsTable(final)}`);
        const page = leaderboard.store.listResults({
          namespace,
          sweep: name,
          sortBy: validationMetricName(sweep.spec.objective.metric),
        });
        if (page.totalCount > 0) {
          const summary = leaderboard.store.getSweepSummary({ namespace, sweep: name });
          console.log(`\n${paperReport(summary, 'md')}`);
        }
        console.log(`\n${page.totalCount} results on the leaderboard: ${url}`);
        if (options.keepOpen && !stop.signal.aborted) {
          console.log('serving the leaderboard until Ctrl-C');
          await new Promise((resolve) => process.once('SIGINT', resolve));
        }
        await leaderboard.close();
        await nats?.stop();
        if (final.phase !== 'Succeeded') {
          throw new Error(
            stop.signal.aborted
              ? `sweep ${name} stopped; run the same command again to resume`
              : `sweep ${name} ${final.phase}${final.reason ? `: ${final.reason}` : ''}`,
          );
        }
      },
    );
}

/**
 * nats-server from Debian for the live curves; without it the sweep still runs and reports
 * its results, only the curves are missing, and the user is told how to get them.
 */
async function startLocalNats(storeDir: string, log: (line: string) => void) {
  try {
    return await startNatsServer({ storeDir });
  } catch (error) {
    if (!/not found on PATH/.test((error as Error).message)) throw error;
    log(`no live metrics: ${(error as Error).message}`);
    return undefined;
  }
}

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((width * done) / total);
  return `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
}

function progressLine(state: SweepState): string {
  const c = countSweep(state);
  const metric = state.sweep.spec.objective.metric;
  const best = c.best ? ` · best val ${metric} ${score(c.best.objective)} (${c.best.trial})` : '';
  const failed = c.failed + c.diverged + c.pruned;
  // A sweep of scratch trials alone has no pre-training to count.
  const pretraining =
    c.pretrainings.total > 0
      ? `pre-training [${bar(c.pretrainings.succeeded, c.pretrainings.total)}] ${c.pretrainings.succeeded}/${c.pretrainings.total} · `
      : '';
  const suggestions = c.suggestions
    ? ` · suggestions ${c.suggestions.told} told of ${c.suggestions.asked} asked`
    : '';
  return `${pretraining}trials [${bar(c.succeeded + failed, c.planned)}] ${c.succeeded}/${c.planned} done, ${c.running} running${failed ? `, ${failed} failed` : ''}${suggestions}${best}`;
}

/** The trials, best first by their objective: the validation metric (test is on the leaderboard). */
function resultsTable(state: SweepState): string {
  const { metric, direction } = state.sweep.spec.objective;
  const sign = direction === 'maximize' ? 1 : -1;
  const value = (t: TrialState) => sign * (t.objective ?? sign * Number.NEGATIVE_INFINITY);
  const searched = state.sweep.spec.search !== undefined;
  const rows = Object.values(state.trials)
    .sort((a, b) => value(b) - value(a) || 0)
    .map((t) => [
      t.trial.name,
      t.trial.config.method,
      t.trial.config.mask ? maskLabel(t.trial.config.mask) : '-',
      t.trial.config.augmentation.type,
      String(t.trial.seed),
      t.phase,
      score(t.objective),
      t.reason && t.phase !== 'Succeeded' ? t.reason : '',
      ...(searched ? [searchedValues(t)] : []),
    ]);
  return table(
    [
      'TRIAL',
      'METHOD',
      'MASK',
      'AUGMENTATION',
      'SEED',
      'PHASE',
      `VAL ${metric.toUpperCase()}`,
      'REASON',
      ...(searched ? ['SUGGESTED'] : []),
    ],
    rows,
  );
}

/** A sampled trial's suggestion: its number and values (the base config shows in the other columns). */
function searchedValues(t: TrialState): string {
  const suggestion = (t.trial as Partial<SampledTrial>).suggestion;
  if (!suggestion) return '';
  const values = Object.entries(suggestion.params)
    .filter(([name]) => name !== CONFIG_PARAMETER)
    .map(
      ([name, value]) =>
        `${name}=${typeof value === 'number' ? value.toPrecision(3) : JSON.stringify(value)}`,
    );
  return `#${suggestion.number} ${values.join(' ')}`;
}
