/** What reportResult refuses, naming the proto field, and what it keeps as given. */
import { describe, expect, it } from 'vitest';
import { resultFixture } from './fixtures.test-support.js';
import type { Store } from './store.js';
import { refusal, useTestStore } from './store.test-support.js';
import type { TrialResultInput } from './types.js';

let store: Store;
useTestStore((opened) => {
  store = opened;
});

describe('reportResult validation', () => {
  const cases: Array<[string, (r: TrialResultInput) => void, string, RegExp]> = [
    ['unknown sweep', (r) => (r.sweep = 'nope'), 'result.sweep', /"nope" is not registered/],
    ['missing trial', (r) => (r.trial = ''), 'result.trial', /non-empty string, got ""/],
    [
      'trial longer than 253',
      (r) => (r.trial = 'x'.repeat(254)),
      'result.trial',
      /at most 253 characters, got 254/,
    ],
    [
      'counts of the wrong length',
      (r) => (r.confusionMatrix = { numClasses: 2, counts: [1, 2, 3] }),
      'result.confusion_matrix.counts',
      /num_classes² = 4 entries, got 3/,
    ],
    [
      'a negative count',
      (r) => (r.confusionMatrix = { numClasses: 2, counts: [1, -2, 3, 4] }),
      'result.confusion_matrix.counts[1]',
      /got -2/,
    ],
    [
      'a fractional count',
      (r) => (r.confusionMatrix = { numClasses: 2, counts: [1, 2, 3.5, 4] }),
      'result.confusion_matrix.counts[2]',
      /got 3.5/,
    ],
    [
      'one class',
      (r) => (r.confusionMatrix = { numClasses: 1, counts: [1] }),
      'result.confusion_matrix.num_classes',
      /\[2, 1000\], got 1/,
    ],
    [
      'no confusion matrix',
      (r) => (r.confusionMatrix = null),
      'result.confusion_matrix',
      /required/,
    ],
    ['no config', (r) => (r.config = undefined), 'result.config', /required/],
    [
      'a config that is not JSON',
      (r) => ((r.config as { configJson: string }).configJson = '{nope'),
      'result.config.config_json',
      /must be JSON/,
    ],
    [
      'a label out of range',
      (r) => (r.predictions = [{ sampleId: 'a', label: 2, predicted: 0, probabilities: [] }]),
      'result.predictions[0].label',
      /\[0, 1\], got 2/,
    ],
    [
      'a repeated sample',
      (r) =>
        (r.predictions = [
          { sampleId: 'a', label: 1, predicted: 0, probabilities: [] },
          { sampleId: 'a', label: 1, predicted: 1, probabilities: [] },
        ]),
      'result.predictions[1].sample_id',
      /repeats sample "a"/,
    ],
    [
      'probabilities of the wrong length',
      (r) => (r.predictions = [{ sampleId: 'a', label: 1, predicted: 0, probabilities: [0.5] }]),
      'result.predictions[0].probabilities',
      /got 1/,
    ],
    [
      'a metric that is not finite',
      (r) => (r.metrics = { f1: Number.NaN }),
      'result.metrics.f1',
      /finite number, got NaN/,
    ],
    [
      'a metric name with a quote',
      (r) => (r.metrics = { 'f1"': 0.5 }),
      'result.metrics',
      /got "f1\\""/,
    ],
    [
      'a validation metric that is not finite',
      (r) => (r.valMetrics = { f1: Number.POSITIVE_INFINITY }),
      'result.val_metrics.f1',
      /finite number, got Infinity/,
    ],
    [
      'an empty grid name',
      (r) => ((r.config as { grids: string[] }).grids = ['grid-1', '']),
      'result.config.grids[1]',
      /non-empty string, got ""/,
    ],
    ['a negative attempt', (r) => (r.attempt = -1), 'result.attempt', /got -1/],
    [
      'a negative duration',
      (r) => (r.durationSeconds = -3),
      'result.duration_seconds',
      />= 0, got -3/,
    ],
  ];
  it.each(cases)('refuses %s', (_name, spoil, field, message) => {
    const result = resultFixture();
    spoil(result);
    const error = refusal(() => store.reportResult(result));
    expect(error.name).toBe('InvalidResultError');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect(store.listResults({ namespace: 'default' }).totalCount).toBe(0);
  });

  it('keeps a result reported without validation metrics or grids (an older trial-runner)', () => {
    const result = resultFixture({ trial: 'old' });
    result.valMetrics = undefined;
    (result.config as { grids?: string[] | null }).grids = null;
    expect(store.reportResult(result).stored).toBe(true);
    expect(store.getResult('default', 'old')).toMatchObject({
      valMetrics: {},
      config: { grids: [] },
    });
  });

  it('accepts any non-empty trial name and returns it unchanged', () => {
    const trial = '<script>alert(1)</script> & "quotes"';
    expect(store.reportResult(resultFixture({ trial })).stored).toBe(true);
    expect(store.getResult('default', trial)?.trial).toBe(trial);
  });
});
