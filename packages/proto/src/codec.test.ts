import { describe, expect, it } from 'vitest';
import { encodeRepeatedMessages, InvalidMessageError, MessageDecodeError } from './codec.js';
import {
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
} from './generated/grpc-health-v1.js';
import {
  LifecycleEvent,
  MetricEvent,
  MetricEventBatch,
  MetricKind,
  Stage,
  SweepSummary,
  TableRowKind,
  TrialResult,
} from './generated/masksweep-v1.js';

describe('message codecs', () => {
  it('round-trips a metric event with a map, enums, a uint64 beyond 32 bits and a NaN', () => {
    const event: MetricEvent = {
      namespace: 'research',
      sweep: 'paper',
      trial: 'paper-0a1b2c3d4e',
      attempt: 2,
      stage: Stage.STAGE_FINETUNE,
      kind: MetricKind.METRIC_KIND_VALIDATION,
      step: 2 ** 40 + 7,
      epoch: 12,
      values: { val_f1: 0.8125, val_loss: Number.NaN, lr: -0 },
      wallTimeMs: 1_767_225_600_123,
    };
    const decoded = MetricEvent.decode(MetricEvent.encode(event));
    expect(decoded).toEqual(event);
    expect(typeof decoded.step).toBe('number');
    expect(Number.isNaN(decoded.values.val_loss)).toBe(true);
  });

  it('decodes the largest exact uint64 and negative int64 as plain numbers', () => {
    const decoded = MetricEvent.decode(
      MetricEvent.encode({ step: Number.MAX_SAFE_INTEGER, wallTimeMs: -1 }),
    );
    expect(decoded.step).toBe(Number.MAX_SAFE_INTEGER);
    expect(decoded.wallTimeMs).toBe(-1);
  });

  it('fills every absent field with its proto3 default', () => {
    expect(TrialResult.decode(new Uint8Array())).toEqual({
      namespace: '',
      sweep: '',
      trial: '',
      attempt: 0,
      config: null,
      confusionMatrix: null,
      metrics: {},
      valMetrics: {},
      predictions: [],
      artifacts: [],
      finishedAtMs: 0,
      durationSeconds: 0,
      sequence: 0,
    });
    expect(HealthCheckResponse.create({})).toEqual({
      status: HealthCheckResponse_ServingStatus.UNKNOWN,
    });
  });

  it('round-trips a result with nested messages, repeated floats and maps of messages', () => {
    const result = TrialResult.decode(
      TrialResult.encode({
        trial: 't',
        config: { method: 'spark', maskType: 'mesh', maskRatio: 0.6, seed: 3, grids: ['a', 'b'] },
        confusionMatrix: { numClasses: 2, counts: [50, 3, 4, 43] },
        metrics: { f1: 0.9, macro_f1: 0.88 },
        valMetrics: { f1: 0.8 },
        predictions: [{ sampleId: 'p1/s3', label: 1, predicted: 0, probabilities: [0.75, 0.25] }],
        sequence: 2 ** 33,
      }),
    );
    expect(result.config?.maskRatio).toBe(0.6);
    expect(result.config?.grids).toEqual(['a', 'b']);
    expect(result.valMetrics).toEqual({ f1: 0.8 });
    expect(result.metrics).toEqual({ f1: 0.9, macro_f1: 0.88 });
    expect(result.config?.augmentation).toBe('');
    expect(result.predictions[0]).toEqual({
      sampleId: 'p1/s3',
      label: 1,
      predicted: 0,
      probabilities: [0.75, 0.25],
    });
    expect(result.sequence).toBe(2 ** 33);
    const summary = SweepSummary.decode(
      SweepSummary.encode({
        configs: [
          {
            metrics: { f1: { mean: 0.9, std: Number.NaN, n: 1, perSeed: [0.9, Number.NaN] } },
            seeds: [0, 1],
          },
        ],
        tables: [
          {
            grid: 'g',
            rows: [
              { kind: TableRowKind.TABLE_ROW_KIND_SCRATCH, label: 'Scratch · None' },
              {
                kind: TableRowKind.TABLE_ROW_KIND_CONFIG,
                versusReference: { difference: -0.25, pValueHolm: Number.NaN, seeds: [0, 1] },
              },
            ],
          },
        ],
      }),
    );
    expect(summary.configs[0]?.metrics.f1).toEqual({
      mean: 0.9,
      std: Number.NaN,
      ciLow: 0,
      ciHigh: 0,
      n: 1,
      perSeed: [0.9, Number.NaN],
      standardError: 0,
    });
    expect(summary.configs[0]?.config).toBeNull();
    const [scratch, row] = summary.tables[0]?.rows ?? [];
    expect(scratch).toMatchObject({ kind: TableRowKind.TABLE_ROW_KIND_SCRATCH, best: false });
    expect(scratch?.versusReference).toBeNull();
    expect(row?.versusReference).toMatchObject({ difference: -0.25, seeds: [0, 1] });
    expect(row?.versusReference?.pValueHolm).toBeNaN();
  });

  it('names the set member of a oneof and leaves the others out', () => {
    const decoded = LifecycleEvent.decode(
      LifecycleEvent.encode({
        trial: 't',
        attempt: 1,
        diverged: {
          stage: Stage.STAGE_PRETRAIN,
          step: 120,
          learningRate: 0.004,
          message: 'NaN loss',
        },
      }),
    );
    expect(decoded.event).toBe('diverged');
    expect(decoded.diverged).toEqual({
      stage: Stage.STAGE_PRETRAIN,
      step: 120,
      learningRate: 0.004,
      message: 'NaN loss',
    });
    expect('started' in decoded).toBe(false);
    // An empty member message is still "set".
    expect(LifecycleEvent.create({ finished: {} })).toMatchObject({
      event: 'finished',
      finished: { objective: 0 },
    });
    expect(LifecycleEvent.create({}).event).toBeUndefined();
  });

  it.each([
    [() => MetricEvent.encode({ stage: 9 as Stage }), 'stage', 'enum value expected'],
    [
      () => MetricEvent.encode({ attempt: -1 }),
      'attempt',
      'uint32 must be an integer in [0, 4294967295], got -1',
    ],
    [() => MetricEvent.encode({ step: 1.5 }), 'step', 'integer|Long expected'],
    [
      () => MetricEvent.encode({ step: 2 ** 60 }),
      'step',
      'uint64 must be an integer in [0, 9007199254740991]',
    ],
    [
      () => MetricEvent.encode({ values: { loss: 'low' as unknown as number } }),
      'values',
      'number{k:string} expected',
    ],
    [
      () => TrialResult.encode({ predictions: [{}, { label: -2 }] }),
      'predictions[1].label',
      'got -2',
    ],
    [() => LifecycleEvent.encode({ started: {}, finished: {} }), 'event', 'multiple values'],
  ])('refuses an invalid message naming the field (%#)', (encode, field, reason) => {
    let error: unknown;
    try {
      encode();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect((error as InvalidMessageError).field).toBe(field);
    expect((error as Error).message).toContain(`${field}: `);
    expect((error as Error).message).toContain(reason);
  });

  it('refuses bytes that are not the message, naming the type', () => {
    expect(() => MetricEvent.decode(new Uint8Array([0x0a, 0x05, 0x61]))).toThrow(
      MessageDecodeError,
    );
    expect(() => MetricEvent.decode(new Uint8Array([0x0a, 0x05, 0x61]))).toThrow(
      /cannot decode masksweep\.v1\.MetricEvent from 3 bytes/,
    );
  });

  it('frames encoded members into the repeated field of a container, as encoding it whole would', () => {
    // Members of several sizes: a varint length of one and of two bytes.
    const events = [1, 2, 3].map((step) =>
      MetricEvent.create({
        trial: 't'.repeat(step * 60),
        step,
        values: { loss: 1 / step },
        wallTimeMs: 1_767_225_600_000 + step,
      }),
    );
    const framed = encodeRepeatedMessages(
      1,
      events.map((event) => MetricEvent.encode(event)),
    );
    expect(framed).toEqual(MetricEventBatch.encode({ events }));
    expect(MetricEventBatch.decode(framed).events).toEqual(events);
    expect(encodeRepeatedMessages(1, [])).toHaveLength(0);
  });
});
