import { describe, expect, it } from 'vitest';
import {
  finetuneTerminationMessage,
  metricName,
  parseFinetuneTermination,
  TRIAL_EXIT_CODES,
  trialExitReason,
  validatedMetricOf,
  validationMetricName,
} from './contracts.js';
import { OBJECTIVE_METRICS } from './schema.js';

describe('trial exit codes', () => {
  it('maps each code back to its reason, and an unknown code to a trainer error', () => {
    for (const [reason, code] of Object.entries(TRIAL_EXIT_CODES))
      expect(trialExitReason(code)).toBe(reason);
    expect(TRIAL_EXIT_CODES).toEqual({
      Completed: 0,
      TrainerError: 1,
      InvalidTrial: 2,
      Diverged: 3,
    });
    expect(trialExitReason(42)).toBe('TrainerError');
  });
});

describe('metric names', () => {
  it('are snake case, with val_ for validation', () => {
    expect(metricName('macroF1')).toBe('macro_f1');
    expect(metricName('macroPrecision')).toBe('macro_precision');
    expect(metricName('f1')).toBe('f1');
    expect(OBJECTIVE_METRICS.map(validationMetricName)).toEqual([
      'val_f1',
      'val_recall',
      'val_precision',
      'val_accuracy',
      'val_macro_f1',
    ]);
  });
});

describe('validatedMetricOf', () => {
  it('gives back the metric of a validation name, and nothing for a test name', () => {
    for (const metric of OBJECTIVE_METRICS)
      expect(validatedMetricOf(validationMetricName(metric))).toBe(metricName(metric));
    expect(validatedMetricOf('f1')).toBeUndefined();
    expect(validatedMetricOf('macro_f1')).toBeUndefined();
  });
});

describe('the termination message of a finished fine-tuning', () => {
  it('carries the validation metrics and reads back the same', () => {
    const valMetrics = { f1: 0.8, macro_f1: 0.75 };
    const message = finetuneTerminationMessage(valMetrics);
    expect(parseFinetuneTermination(message)).toEqual(valMetrics);
    expect(message.length).toBeLessThan(4096);
  });

  it("reads no metrics from an error line or an older trial-runner's test metrics", () => {
    expect(parseFinetuneTermination('CUDA out of memory')).toBeUndefined();
    expect(parseFinetuneTermination('{"metrics":{"f1":0.9}}')).toBeUndefined();
    expect(parseFinetuneTermination('null')).toBeUndefined();
  });
});
