import { describe, expect, it } from 'vitest';
import {
  metricName,
  TRIAL_EXIT_CODES,
  trialExitReason,
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
