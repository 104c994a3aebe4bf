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
      'a config nested 1,001 levels deep',
      (r) =>
        ((r.config as { configJson: string }).configJson =
          `${'{"a":'.repeat(1001)}1${'}'.repeat(1001)}`),
      'result.config.config_json',
      /nests 1001 levels deep; at most 64/,
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
      /refused metric names "f1\\""/,
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
      'an attempt of -1 sent as uint32',
      (r) => (r.attempt = 2 ** 32 - 1),
      'result.attempt',
      /\[0, 1000\], got 4294967295/,
    ],
    [
      'a finish time past what a date can say',
      (r) => (r.finishedAtMs = 8.64e15 + 1),
      'result.finished_at_ms',
      /\[0, 253402300799999\].*got 8640000000000001/,
    ],
    [
      'a finish time of 2^53 - 1',
      (r) => (r.finishedAtMs = Number.MAX_SAFE_INTEGER),
      'result.finished_at_ms',
      /up to 9999-12-31/,
    ],
    ['an F1 of 7', (r) => (r.metrics = { f1: 7 }), 'result.metrics.f1', /\[0, 1\], got 7/],
    [
      'a validation macro F1 of -3',
      (r) => (r.valMetrics = { macro_f1: -3 }),
      'result.val_metrics.macro_f1',
      /\[0, 1\], got -3/,
    ],
    [
      'metric names that objects reserve, listed',
      (r) => (r.metrics = JSON.parse('{"f1": 0.5, "__proto__": 0.5, "constructor": 1}')),
      'result.metrics',
      /refused metric names "__proto__", "constructor"/,
    ],
    [
      'a probability above 1',
      (r) => {
        r.confusionMatrix = { numClasses: 2, counts: [0, 0, 1, 0] };
        r.predictions = [{ sampleId: 'a', label: 1, predicted: 0, probabilities: [1.5, -0.5] }];
      },
      'result.predictions[0].probabilities[0]',
      /probability in \[0, 1\], got 1.5/,
    ],
    [
      'a confusion matrix that disagrees with the predictions',
      (r) => {
        r.confusionMatrix = { numClasses: 2, counts: [1, 0, 0, 1] };
        r.predictions = [
          { sampleId: 'a', label: 1, predicted: 0, probabilities: [] },
          { sampleId: 'b', label: 1, predicted: 1, probabilities: [] },
        ];
      },
      'result.confusion_matrix.counts[0]',
      /0 predictions have label 0 and predicted 0, the matrix says 1/,
    ],
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

  it('keeps metrics that are not fractions (a loss) as they are, and a matrix that tallies the predictions', () => {
    const result = resultFixture({
      trial: 'tallied',
      metrics: { f1: 1, loss: 7.5 },
      counts: [1, 0, 0, 1],
      predictions: [
        { sampleId: 'a', label: 0, predicted: 0, probabilities: [0.9, 0.1] },
        { sampleId: 'b', label: 1, predicted: 1, probabilities: [0, 1] },
      ],
      finishedAtMs: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    });
    expect(store.reportResult(result).stored).toBe(true);
    expect(store.getResult('default', 'tallied')?.metrics).toEqual({ f1: 1, loss: 7.5 });
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
