import { type SweepObject, SweepStatus, TrialStatus, validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { initialState } from '../reconcile.js';
import {
  failedStatus,
  invalidStatus,
  mergePatch,
  RECONCILE_FAILED,
  sameStatus,
  setCondition,
  sweepStatus,
  trialStatus,
} from './status.js';

describe('statuses', () => {
  it("carry only fields of the CRDs' status schemas (the API server would drop the rest)", () => {
    const resource = validateSweep(tinySweep('pruned', { seeds: [0, 1, 2] }), {
      checkData: false,
    });
    const state = initialState(resource, '.', 1_000);
    const [done, failed, waiting] = Object.values(state.trials);
    const pretraining = Object.values(state.pretrainings)[0];
    if (!done || !failed || !waiting || !pretraining) throw new Error('the sweep has 3 trials');
    Object.assign(done, { phase: 'Succeeded', objective: 0.9, finetune: { started: 1 } });
    Object.assign(failed, { phase: 'Failed', reason: 'TrainerError', message: 'boom' });
    failed.finetune = { started: 2 };
    waiting.finetune = { started: 1, notBefore: 5_000 };
    Object.assign(pretraining, {
      phase: 'Pending',
      reason: 'Interrupted',
      message: 'evicted',
      attempts: { started: 1, notBefore: 9_000 },
    });
    Object.assign(state, { phase: 'Failed', reason: 'MaxFailedTrials: 1', finishedAt: 9_000 });
    const now = new Date(10_000).toISOString();
    const written = [done, failed, waiting].map((t) =>
      trialStatus(t, pretraining, undefined, 'pruned-ft-1', now),
    );
    for (const status of written) {
      expect(Value.Clean(TrialStatus, structuredClone(status))).toEqual(status);
      expect(status.pretrain?.retryAfter).toBeDefined();
    }
    expect(written.map((s) => [s.objective, s.message, s.retryAfter])).toEqual([
      [0.9, undefined, undefined],
      [undefined, 'boom', undefined],
      [undefined, undefined, new Date(5_000).toISOString()],
    ]);
    const sweep = {
      ...resource,
      metadata: { ...resource.metadata, generation: 2 },
    } as SweepObject;
    const status = sweepStatus(state, sweep, 3, now);
    expect(status.bestTrial?.objective).toBe(0.9);
    expect(status.completionTime).toBeDefined();
    expect(Value.Clean(SweepStatus, structuredClone(status))).toEqual(status);
  });
});

describe('failedStatus', () => {
  it('says Failed with the last error, and a later pass that works says it no more', () => {
    const resource = validateSweep(tinySweep('flaky'), { checkData: false });
    const sweep = { ...resource, metadata: { ...resource.metadata, generation: 2 } } as SweepObject;
    const failed = failedStatus(sweep, '10 reconcile passes failed; the last: boom', 'then');
    expect(failed.phase).toBe('Failed');
    expect(failed.conditions).toEqual([
      {
        type: 'Failed',
        status: 'True',
        reason: RECONCILE_FAILED,
        message: '10 reconcile passes failed; the last: boom',
        observedGeneration: 2,
        lastTransitionTime: 'then',
      },
    ]);
    const state = initialState(resource, '.', 1_000);
    Object.assign(state, { phase: 'Running' });
    const recovered = sweepStatus(state, { ...sweep, status: failed }, 1, 'now');
    expect(recovered.phase).toBe('Running');
    expect(recovered.conditions?.map((c) => c.type)).not.toContain('Failed');
  });
});

describe('invalidStatus', () => {
  it('lists the first 20 problems and counts the rest', () => {
    const sweep = { ...validateSweep(tinySweep('bad'), { checkData: false }) } as SweepObject;
    const problems = Array.from({ length: 2048 }, (_, i) => `spec.grids[0].masks[${i}]: bad`);
    const message = invalidStatus(sweep, problems, 'now').conditions?.[0]?.message ?? '';
    expect(message.split('; ')).toHaveLength(21);
    expect(message).toMatch(
      /^spec\.grids\[0\]\.masks\[0\]: bad; .*masks\[19\]: bad; and 2028 more problems$/,
    );
  });
});

describe('mergePatch', () => {
  it('names removed fields as null, at every depth, and keeps the rest', () => {
    const previous = {
      phase: 'Pending',
      retryAfter: 't',
      pretrain: { phase: 'Pending', retryAfter: 't' },
    };
    const desired = { phase: 'Finetuning', pretrain: { phase: 'Succeeded' } };
    expect(mergePatch(previous, desired)).toEqual({
      phase: 'Finetuning',
      retryAfter: null,
      pretrain: { phase: 'Succeeded', retryAfter: null },
    });
  });

  it('replaces lists whole and treats undefined as absent', () => {
    expect(
      mergePatch({ conditions: [{ type: 'A' }], job: 'j' }, { conditions: [], job: undefined }),
    ).toEqual({
      conditions: [],
      job: null,
    });
    expect(mergePatch(undefined, { phase: 'Pending' })).toEqual({ phase: 'Pending' });
  });
});

describe('setCondition', () => {
  it('keeps the transition time while the status stays, and moves it when the status changes', () => {
    const first = setCondition(
      [],
      { type: 'Running', status: 'True', reason: 'Pretraining' },
      't1',
    );
    const same = setCondition(
      first,
      { type: 'Running', status: 'True', reason: 'Finetuning' },
      't2',
    );
    expect(same).toEqual([
      { type: 'Running', status: 'True', reason: 'Finetuning', lastTransitionTime: 't1' },
    ]);
    const changed = setCondition(
      same,
      { type: 'Running', status: 'False', reason: 'Succeeded' },
      't3',
    );
    expect(changed[0]?.lastTransitionTime).toBe('t3');
  });

  it('leaves an empty message out (the API server would read it as null)', () => {
    const [condition] = setCondition(
      [],
      { type: 'Failed', status: 'True', reason: 'X', message: '' },
      't',
    );
    expect(condition).not.toHaveProperty('message');
  });
});

describe('sameStatus', () => {
  it('ignores key order and undefined fields, not values', () => {
    expect(sameStatus({ a: 1, b: undefined, c: { d: 2, e: 3 } }, { c: { e: 3, d: 2 }, a: 1 })).toBe(
      true,
    );
    expect(sameStatus({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameStatus({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });

  it('says what JSON of both would say', () => {
    const cases: Array<[unknown, unknown]> = [
      [{ a: null }, {}],
      [{ a: null }, { a: undefined }],
      [{ a: [undefined] }, { a: [null] }],
      [{ a: [] }, { a: {} }],
      [{ a: {} }, {}],
      [undefined, {}],
      [{ a: { b: 1 } }, { a: { b: 1, c: 2 } }],
      [{ a: '1' }, { a: 1 }],
      [
        { conditions: [{ type: 'Running', status: 'True' }] },
        { conditions: [{ status: 'True', type: 'Running' }] },
      ],
    ];
    const normalized = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(normalized)
        : value && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .filter(([, v]) => v !== undefined)
                .sort(([x], [y]) => (x < y ? -1 : 1))
                .map(([k, v]) => [k, normalized(v)]),
            )
          : value;
    for (const [a, b] of cases) {
      const json = JSON.stringify(normalized(a)) === JSON.stringify(normalized(b));
      expect(sameStatus(a, b), JSON.stringify([a, b])).toBe(json);
      expect(sameStatus(b, a), JSON.stringify([b, a])).toBe(json);
    }
  });
});
