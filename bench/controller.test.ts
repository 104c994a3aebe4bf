import { describe, expect, it } from 'vitest';
import { expansionOf, metricSum, sweepManifest } from './controller.js';

describe('sweepManifest', () => {
  it('expands to exactly the trials asked for, five sharing each pre-training key', () => {
    expect(expansionOf(sweepManifest('wave', 1000, 100))).toEqual({
      trials: 1000,
      pretrainKeys: 200,
    });
    expect(expansionOf(sweepManifest('small', 25, 5))).toEqual({ trials: 25, pretrainKeys: 5 });
  });

  it('refuses a count that is not a multiple of 25', () => {
    expect(() => sweepManifest('odd', 1010, 100)).toThrow(RangeError);
  });
});

describe('metricSum', () => {
  const text = [
    '# HELP masksweep_controller_reconciles_total Sweep reconcile passes.',
    '# TYPE masksweep_controller_reconciles_total counter',
    'masksweep_controller_reconciles_total{result="ok"} 41',
    'masksweep_controller_reconciles_total{result="error"} 2',
    'masksweep_controller_reconcile_duration_seconds_sum 3.25',
    'masksweep_controller_reconcile_duration_seconds_count 43',
    'masksweep_controller_workloads_ended_total{reason="Completed"} 10',
    'masksweep_controller_workloads_ended_total{reason="TrainerError"} 1',
  ].join('\n');

  it('sums the series with the labels given, and only the metric named', () => {
    expect(metricSum(text, 'masksweep_controller_reconciles_total', ['result="ok"'])).toBe(41);
    expect(metricSum(text, 'masksweep_controller_reconciles_total')).toBe(43);
    expect(metricSum(text, 'masksweep_controller_reconcile_duration_seconds_sum')).toBe(3.25);
    expect(metricSum(text, 'masksweep_controller_workloads_ended_total')).toBe(11);
    expect(metricSum(text, 'masksweep_controller_jobs_created_total')).toBe(0);
  });
});
