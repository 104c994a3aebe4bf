import { InvalidMessageError, MetricKind, Stage } from '@masksweep/proto';
import { describe, expect, it } from 'vitest';
import { InvalidSubjectError } from './errors.js';
import { lifecycleEventId, metricEventId } from './event-ids.js';
import {
  allEventsSubject,
  parseSubject,
  subjectFor,
  sweepEventsSubject,
  trialEventsSubject,
} from './subjects.js';

describe('subjects', () => {
  it('round-trips Kubernetes names with dots through subject tokens', () => {
    const address = {
      namespace: 'team.vision',
      sweep: 'paper-v1.2',
      trial: 'paper-v1.2-0a1b2c3d4e',
      kind: 'lifecycle' as const,
    };
    const subject = subjectFor(address);
    expect(subject).toBe('masksweep.team_vision.paper-v1_2.paper-v1_2-0a1b2c3d4e.lifecycle');
    expect(parseSubject(subject)).toEqual(address);
  });

  it.each([
    ['namespace', { namespace: '' }, 'must be a non-empty name, got ""'],
    ['sweep', { sweep: 'my sweep' }, '"my sweep" contains " "'],
    ['trial', { trial: 't*' }, '"t*" contains "*"'],
    ['trial', { trial: 'a>' }, '"a>" contains ">"'],
    ['sweep', { sweep: 'under_score' }, '"under_score" contains "_"'],
    ['namespace', { namespace: 'Research' }, '"Research" contains "R"'],
    ['kind', { kind: 'metrics' }, 'must be one of metric, lifecycle, got "metrics"'],
  ])('refuses a bad %s naming it', (field, bad, reason) => {
    const address = { namespace: 'ns', sweep: 's', trial: 't', kind: 'metric', ...bad };
    let error: unknown;
    try {
      subjectFor(address as Parameters<typeof subjectFor>[0]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidSubjectError);
    expect((error as InvalidSubjectError).field).toBe(field);
    expect((error as Error).message).toContain(`${field}: ${reason}`);
  });

  it.each([
    ['masksweep.ns.s.t', 'is not masksweep.<namespace>.<sweep>.<trial>.<kind>'],
    ['other.ns.s.t.metric', 'is not masksweep.'],
    ['masksweep.ns.s.t.result', 'has kind "result"'],
    ['masksweep.ns.S.t.metric', 'has a sweep token that is not an encoded Kubernetes name'],
  ])('refuses to parse %s', (subject, reason) => {
    expect(() => parseSubject(subject)).toThrow(`subject: "${subject}" ${reason}`);
  });

  it('builds filters for everything, one sweep and one trial', () => {
    expect(allEventsSubject()).toBe('masksweep.>');
    expect(allEventsSubject('metric')).toBe('masksweep.*.*.*.metric');
    expect(sweepEventsSubject('ns', 'a.b')).toBe('masksweep.ns.a_b.*.*');
    expect(sweepEventsSubject('ns', 'a', 'lifecycle')).toBe('masksweep.ns.a.*.lifecycle');
    expect(trialEventsSubject('ns', 'a', 'a-1')).toBe('masksweep.ns.a.a-1.*');
    expect(() => trialEventsSubject('ns', 'a', '*')).toThrow('trial: "*" contains "*"');
  });
});

describe('event ids', () => {
  it('identifies a metric event by namespace, trial, attempt, stage, kind and step', () => {
    expect(
      metricEventId({
        namespace: 'ns',
        sweep: 'ignored',
        trial: 't',
        attempt: 2,
        stage: Stage.STAGE_FINETUNE,
        kind: MetricKind.METRIC_KIND_VALIDATION,
        step: 340,
        values: { loss: 1 },
      }),
    ).toBe('ns/t/2/finetune/validation/340');
    expect(metricEventId({})).toBe('//0/unspecified/unspecified/0');
  });

  it('identifies a lifecycle event by its case and, where it repeats, the stage or step', () => {
    const base = { namespace: 'ns', trial: 't', attempt: 1 };
    expect(lifecycleEventId({ ...base, started: { worker: 'pod-1' } })).toBe(
      'ns/t/1/lifecycle/started',
    );
    expect(lifecycleEventId({ ...base, stageChanged: { stage: Stage.STAGE_EVALUATE } })).toBe(
      'ns/t/1/lifecycle/stageChanged/evaluate',
    );
    expect(lifecycleEventId({ ...base, pruned: { step: 900, pruner: 'asha' } })).toBe(
      'ns/t/1/lifecycle/pruned/900',
    );
    expect(lifecycleEventId({ ...base, diverged: { step: 12 } })).toBe(
      'ns/t/1/lifecycle/diverged/12',
    );
    expect(() => lifecycleEventId(base)).toThrow(InvalidMessageError);
    expect(() => lifecycleEventId(base)).toThrow(
      'masksweep.v1.LifecycleEvent: event: one of started, stageChanged, finished, failed, diverged, pruned must be set',
    );
  });
});
