import { TPE_DEFAULTS } from '@masksweep/tuner';
import { type Static, Type } from '@sinclair/typebox';
import { stringEnum } from './enums.js';
import { LIMITS } from './limits.js';
import { METHOD_NAMES } from './methods.js';

/**
 * `spec.search`: a typed search space over the trial config's fields (docs/search.md).
 * Kept structural for Kubernetes like the rest of the Sweep: a parameter is one object with
 * optional `float`, `int` and `categorical` blocks (exactly one, checked after the schema),
 * not a `oneOf` of shapes. The rules of a distribution live in packages/tuner
 * (`distributionProblems`, `searchSpaceProblems`); the schema says only what OpenAPI can.
 */

/** A trial config path a search may set: a field of a stage, the network, the mask or the augmentation. */
export const SEARCH_PATH_PATTERN =
  '^(pretrain|finetune|model|mask|augmentation)\\.[A-Za-z][A-Za-z0-9]*$';

/** Any JSON value (a categorical's choice): Kubernetes keeps it as written. */
const AnyValue = Type.Unknown({ 'x-kubernetes-preserve-unknown-fields': true });

const SearchPath = Type.String({
  maxLength: LIMITS.searchPath,
  pattern: SEARCH_PATH_PATTERN,
  description:
    "a field of the trial config: pretrain.<f>, finetune.<f>, model.<f> (the method's own network), mask.<f> or augmentation.<f>",
});

const Choices = Type.Array(AnyValue, { minItems: 1, maxItems: LIMITS.searchChoices });

export const FloatSearch = Type.Object(
  {
    low: Type.Number(),
    high: Type.Number({ description: 'greater than low; a continuous float stays below it' }),
    log: Type.Optional(Type.Boolean({ description: 'uniform in log space (low > 0)' })),
    step: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          'values low, low + step, ..., high (high - low a multiple of it; not with log)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const IntSearch = Type.Object(
  {
    low: Type.Integer({ minimum: -LIMITS.searchInt, maximum: LIMITS.searchInt }),
    high: Type.Integer({
      minimum: -LIMITS.searchInt,
      maximum: LIMITS.searchInt,
      description: 'greater than low; included',
    }),
    log: Type.Optional(Type.Boolean({ description: 'uniform in log space (low >= 1, step 1)' })),
    step: Type.Optional(
      Type.Integer({ minimum: 1, maximum: LIMITS.searchInt, description: 'default 1' }),
    ),
  },
  { additionalProperties: false },
);

export const SearchParameterSpec = Type.Object(
  {
    path: SearchPath,
    float: Type.Optional(FloatSearch),
    int: Type.Optional(IntSearch),
    categorical: Type.Optional(Type.Object({ choices: Choices }, { additionalProperties: false })),
    when: Type.Optional(
      Type.Object(
        {
          method: Type.Optional(
            Type.Array(stringEnum(METHOD_NAMES), {
              minItems: 1,
              maxItems: METHOD_NAMES.length,
              description: 'searched only in trials of these methods',
            }),
          ),
          param: Type.Optional(
            Type.String({
              maxLength: LIMITS.searchPath,
              pattern: SEARCH_PATH_PATTERN,
              description: 'the path of an earlier categorical parameter',
            }),
          ),
          in: Type.Optional(Choices),
        },
        {
          additionalProperties: false,
          description: 'either method, or param with in: the parameter is searched only then',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'a searched field: its path and exactly one of float, int or categorical',
  },
);

/** Optuna 3.1's TPESampler options, with its defaults. */
export const TpeSearch = Type.Object(
  {
    nStartupTrials: Type.Integer({
      minimum: 0,
      maximum: LIMITS.trials,
      default: TPE_DEFAULTS.nStartupTrials,
      description: 'suggestions drawn at random before TPE takes over',
    }),
    nEiCandidates: Type.Integer({
      minimum: 1,
      maximum: LIMITS.eiCandidates,
      default: TPE_DEFAULTS.nEiCandidates,
      description: 'candidates drawn from l(x); the best by l(x)/g(x) is suggested',
    }),
    priorWeight: Type.Number({ exclusiveMinimum: 0, default: TPE_DEFAULTS.priorWeight }),
    considerEndpoints: Type.Boolean({ default: TPE_DEFAULTS.considerEndpoints }),
    multivariate: Type.Boolean({ default: TPE_DEFAULTS.multivariate }),
    group: Type.Boolean({ default: TPE_DEFAULTS.group, description: 'with multivariate only' }),
    constantLiar: Type.Boolean({
      default: TPE_DEFAULTS.constantLiar,
      description: 'running trials count as the worst, so parallel suggestions spread out',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const SearchSpec = Type.Object(
  {
    sampler: stringEnum(['tpe', 'random'] as const, { default: 'tpe' }),
    seed: Type.Integer({ minimum: 0, maximum: LIMITS.seed, default: 0 }),
    tpe: TpeSearch,
    parameters: Type.Array(SearchParameterSpec, {
      minItems: 1,
      maxItems: LIMITS.searchParameters,
    }),
  },
  {
    additionalProperties: false,
    description:
      "search the listed fields over the grids' configs instead of running the grids; needs spec.maxTrials",
  },
);

export type SearchSpecType = Static<typeof SearchSpec>;
export type SearchParameterSpecType = Static<typeof SearchParameterSpec>;
