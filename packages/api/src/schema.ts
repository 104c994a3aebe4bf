import { getMaskPattern, maskTypes } from '@masksweep/masks';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { AUGMENTATION_TYPES } from './augmentations.js';
import { stringEnum } from './enums.js';
import { LIMITS } from './limits.js';
import { METHOD_NAMES, METHODS } from './methods.js';
import { SearchSpec } from './search-schema.js';

/**
 * The Sweep resource: one schema types the code, validates YAML in the CLI and (in the
 * controller's CRD generator) becomes the OpenAPI schema. It is kept structural for
 * Kubernetes: every field has one type, choices are string enums, no `oneOf` of shapes.
 */

export const API_GROUP = 'masksweep.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;

export { stringEnum } from './enums.js';

const Fraction = Type.Number({ minimum: 0, maximum: 1 });

export const DatasetSource = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.pathLength,
        description: 'folder with labels.csv; relative paths are relative to the Sweep file',
      }),
    ),
    phantom: Type.Optional(
      Type.Object(
        {
          count: Type.Integer({ minimum: 4, maximum: LIMITS.phantomCount, default: 200 }),
          seed: Type.Integer({ minimum: 0, maximum: LIMITS.seed, default: 0 }),
          positiveFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5 }),
          lesionRadius: Type.Optional(
            Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1 }), {
              minItems: 2,
              maxItems: 2,
              description:
                "[low, high] of each lesion's radius, as a fraction of the brain's smaller semi-axis (default [0.08, 0.16])",
            }),
          ),
          lesionContrast: Type.Optional(
            Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1 }), {
              minItems: 2,
              maxItems: 2,
              description:
                '[low, high] of the gray level each lesion adds to the brain tissue at its centre (tissue ~0.45, noise 0.015; default [0.35, 0.45])',
            }),
          ),
        },
        {
          additionalProperties: false,
          description: 'synthetic CT-like phantoms instead of a folder',
        },
      ),
    ),
    labelColumn: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.columnName,
        description: 'default: the column named label',
      }),
    ),
    groupColumn: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.columnName,
        description: 'patient/group column; default: patient or group if present',
      }),
    ),
  },
  { additionalProperties: false, description: 'exactly one of path or phantom' },
);

export const Datasets = Type.Object(
  {
    pretrain: DatasetSource,
    downstream: DatasetSource,
    imageSize: Type.Integer({
      minimum: 32,
      maximum: LIMITS.imageSize,
      multipleOf: 32,
      default: 224,
      description: 'square input size in px; the patch grid is imageSize / 32',
    }),
    resize: stringEnum(['stretch', 'pad'] as const, { default: 'stretch' }),
    splits: Type.Object(
      { train: Fraction, val: Fraction, test: Fraction },
      { additionalProperties: false, default: { train: 0.8, val: 0.1, test: 0.1 } },
    ),
    splitSeed: Type.Integer({ minimum: 0, maximum: LIMITS.seed, default: 0 }),
  },
  { additionalProperties: false },
);

/**
 * A mask entry of a grid: a type, its axis values (`ratios`, or `sizes` for square) and any
 * generator options. The options of every registered pattern are listed here (without
 * defaults: they are filled per type by the masks package), so a new pattern needs no edit.
 */
function maskEntrySchema() {
  const options: Record<string, TSchema> = {};
  for (const type of maskTypes()) {
    for (const [name, schema] of Object.entries(getMaskPattern(type).options.properties)) {
      const { default: _default, description: _description, ...shape } = schema as TSchema;
      const existing = options[name];
      if (existing) {
        const { description: _, ...existingShape } = existing;
        if (JSON.stringify(existingShape) !== JSON.stringify(shape)) {
          throw new Error(`mask option '${name}' has two different schemas across mask types`);
        }
      } else {
        options[name] = Type.Optional(shape as TSchema);
      }
    }
  }
  return Type.Object(
    {
      type: stringEnum(maskTypes()),
      ratios: Type.Optional(
        Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), {
          minItems: 1,
          maxItems: LIMITS.axisValues,
        }),
      ),
      sizes: Type.Optional(
        Type.Array(Type.Integer({ minimum: 1, maximum: LIMITS.maskSize }), {
          minItems: 1,
          maxItems: LIMITS.axisValues,
        }),
      ),
      ...options,
    },
    { additionalProperties: false },
  );
}
export const MaskEntry = maskEntrySchema();

const Range = Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 2, maxItems: 2 });

export const Augmentation = Type.Object(
  {
    type: stringEnum(AUGMENTATION_TYPES),
    scale: Type.Optional(Range),
    ratio: Type.Optional(Range),
    p: Type.Optional(Fraction),
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

export const Grid = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.gridName,
        description:
          "unique in the Sweep (default grid-<position>); each trial lists its grids' names, which are not part of its name or keys",
      }),
    ),
    methods: Type.Array(stringEnum(METHOD_NAMES), {
      minItems: 1,
      maxItems: METHOD_NAMES.length,
    }),
    masks: Type.Array(MaskEntry, {
      minItems: 1,
      maxItems: LIMITS.masksPerGrid,
      default: [{ type: 'random', ratios: [0.6] }],
    }),
    augmentations: Type.Array(Augmentation, {
      minItems: 1,
      maxItems: LIMITS.augmentationsPerGrid,
      default: [{ type: 'none' }],
    }),
  },
  { additionalProperties: false },
);

const OPTIMIZERS = ['adamw', 'lamb', 'lars', 'sgd'] as const;

function stageSchema(defaults: {
  epochs: number;
  batchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  weightDecay: number;
  warmupEpochs: number;
}) {
  return Type.Object(
    {
      epochs: Type.Integer({ minimum: 1, maximum: LIMITS.epochs, default: defaults.epochs }),
      batchSize: Type.Integer({
        minimum: 1,
        maximum: LIMITS.batchSize,
        default: defaults.batchSize,
      }),
      optimizer: stringEnum(OPTIMIZERS, { default: defaults.optimizer }),
      lr: Type.Number({ exclusiveMinimum: 0, default: defaults.lr }),
      weightDecay: Type.Number({ minimum: 0, default: defaults.weightDecay }),
      weightDecayEnd: Type.Optional(
        Type.Number({
          minimum: 0,
          description:
            'weight decay at the last step, cosine-annealed from weightDecay (SparK: 0.04 to 0.2); constant when absent',
        }),
      ),
      warmupEpochs: Type.Integer({
        minimum: 0,
        maximum: LIMITS.epochs,
        default: defaults.warmupEpochs,
      }),
      schedule: stringEnum(['cosine', 'constant'] as const, { default: 'cosine' }),
      gradClip: Type.Optional(
        Type.Number({ exclusiveMinimum: 0, description: 'max global gradient norm' }),
      ),
    },
    { additionalProperties: false, default: {} },
  );
}

/** Pre-training: MMPreTrain's SparK recipe (LAMB, lr 1.6e-3, wd 0.04, 40 warm-up of 800 epochs). */
export const PretrainStage = stageSchema({
  epochs: 800,
  batchSize: 64,
  optimizer: 'lamb',
  lr: 1.6e-3,
  weightDecay: 0.04,
  warmupEpochs: 40,
});
/** Fine-tuning: the paper's SparK setting (lr 1e-4, 700 epochs). */
export const FinetuneStage = stageSchema({
  epochs: 700,
  batchSize: 32,
  optimizer: 'adamw',
  lr: 1e-4,
  weightDecay: 0.05,
  warmupEpochs: 20,
});

/** Per-method changes to a stage: any subset of its fields. */
const StageOverride = (stage: typeof PretrainStage) =>
  Type.Partial(
    Type.Object(
      Object.fromEntries(
        Object.entries(stage.properties).map(([k, v]) => {
          const { default: _default, ...rest } = v as TSchema & { default?: unknown };
          return [k, rest as TSchema];
        }),
      ),
      { additionalProperties: false },
    ),
  );

export const Budgets = Type.Object(
  {
    pretrain: PretrainStage,
    finetune: FinetuneStage,
    perMethod: Type.Optional(
      Type.Object(
        Object.fromEntries(
          METHOD_NAMES.map((m) => [
            m,
            Type.Optional(
              // A method without pre-training (scratch) has no pre-training settings to change.
              METHODS[m].pretrains
                ? Type.Object(
                    {
                      pretrain: Type.Optional(StageOverride(PretrainStage)),
                      finetune: Type.Optional(StageOverride(FinetuneStage)),
                    },
                    { additionalProperties: false },
                  )
                : Type.Object(
                    { finetune: Type.Optional(StageOverride(FinetuneStage)) },
                    { additionalProperties: false },
                  ),
            ),
          ]),
        ),
        {
          additionalProperties: false,
          description: "stage settings for one method, e.g. MFF's lower rate",
        },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Width = Type.Integer({ minimum: 1, maximum: LIMITS.width });
const Widths4 = Type.Array(Width, { minItems: 4, maxItems: 4 });

/** Network sizes; defaults are the paper's (ConvNeXt-S, ResNet-50, ViT-B/16). */
export const Model = Type.Object(
  {
    convnext: Type.Object(
      {
        depths: Type.Array(Type.Integer({ minimum: 1, maximum: LIMITS.depth }), {
          minItems: 4,
          maxItems: 4,
          default: [3, 3, 27, 3],
        }),
        widths: Type.Array(Width, { minItems: 4, maxItems: 4, default: [96, 192, 384, 768] }),
        dropPath: Type.Number({ minimum: 0, maximum: 1, default: 0.2 }),
        decoderWidth: Type.Integer({ minimum: 16, maximum: LIMITS.width, default: 512 }),
        layerScaleInit: Type.Optional(
          Type.Number({
            exclusiveMinimum: 0,
            maximum: 1,
            description:
              "each block's layer scale at initialisation (default ConvNeXt's 1e-6, made for deep networks; a network of a few blocks learns sooner with 1)",
          }),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    resnet: Type.Object(
      {
        depth: stringEnum(['18', '50'] as const, { default: '50' }),
        widths: Type.Optional(Widths4),
      },
      { additionalProperties: false, default: {} },
    ),
    vit: Type.Object(
      {
        patchSize: Type.Integer({ minimum: 2, maximum: LIMITS.vitPatchSize, default: 16 }),
        width: Type.Integer({ minimum: 8, maximum: LIMITS.width, default: 768 }),
        depth: Type.Integer({ minimum: 1, maximum: LIMITS.depth, default: 12 }),
        heads: Type.Integer({ minimum: 1, maximum: LIMITS.heads, default: 12 }),
        decoderWidth: Type.Integer({ minimum: 8, maximum: LIMITS.width, default: 512 }),
        decoderDepth: Type.Integer({ minimum: 1, maximum: LIMITS.depth, default: 8 }),
        decoderHeads: Type.Integer({ minimum: 1, maximum: LIMITS.heads, default: 16 }),
        maskRatio: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.75 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const OBJECTIVE_METRICS = ['f1', 'recall', 'precision', 'accuracy', 'macroF1'] as const;

/** A Kubernetes resource quantity such as `8`, `500m` or `16Gi`. */
const Quantity = Type.String({
  maxLength: LIMITS.quantity,
  pattern: '^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi)?$',
});

/** Where and how trial pods run in a cluster; `masksweep run` on one machine ignores it. */
export const KubernetesWorkload = Type.Object(
  {
    image: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.image,
        description: "the trial-runner image (default: the controller's --image)",
      }),
    ),
    gpus: Type.Integer({
      minimum: 0,
      maximum: LIMITS.gpus,
      default: 1,
      description: 'nvidia.com/gpu limit of each trial pod',
    }),
    cpu: Type.Optional(Quantity),
    memory: Type.Optional(Quantity),
    nodeSelector: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: Type.String({ maxLength: LIMITS.labelValue }),
          maxProperties: LIMITS.nodeSelectorLabels,
          description: 'labels the nodes must have',
        },
      ),
    ),
    tolerations: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.Optional(Type.String({ maxLength: LIMITS.labelKey })),
            operator: Type.Optional(stringEnum(['Exists', 'Equal'] as const)),
            value: Type.Optional(Type.String({ maxLength: LIMITS.labelValue })),
            effect: Type.Optional(
              stringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const),
            ),
            tolerationSeconds: Type.Optional(Type.Integer()),
          },
          { additionalProperties: false },
        ),
        { maxItems: LIMITS.tolerations },
      ),
    ),
    serviceAccountName: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.objectName })),
  },
  { additionalProperties: false, default: {} },
);

export const SweepSpec = Type.Object(
  {
    datasets: Datasets,
    grids: Type.Array(Grid, { minItems: 1, maxItems: LIMITS.grids }),
    seeds: Type.Array(Type.Integer({ minimum: 0, maximum: LIMITS.seed }), {
      minItems: 1,
      maxItems: LIMITS.seeds,
      default: [0],
    }),
    model: Model,
    budgets: Budgets,
    parallelism: Type.Integer({
      minimum: 1,
      maximum: LIMITS.parallelism,
      default: 1,
      description: 'trials running at once',
    }),
    maxTrials: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.trials,
        description: `stop creating trials after this many; a grid over ${LIMITS.trials} trials needs it, and a search needs it (a multiple of the seeds)`,
      }),
    ),
    maxFailedTrials: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.trials,
        description: 'the sweep fails after this many',
      }),
    ),
    retries: Type.Integer({
      minimum: 0,
      maximum: LIMITS.retries,
      default: 2,
      description: 'retries per stage after a failure',
    }),
    objective: Type.Object(
      {
        metric: stringEnum(OBJECTIVE_METRICS, { default: 'f1' }),
        direction: stringEnum(['maximize', 'minimize'] as const, { default: 'maximize' }),
      },
      { additionalProperties: false, default: {} },
    ),
    pruner: Type.Optional(
      Type.Object(
        {
          type: stringEnum(['median', 'asha'] as const, {
            description:
              "Optuna's MedianPruner or SuccessiveHalvingPruner, on the validation objective",
          }),
          startupTrials: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: LIMITS.trials,
              description: 'median: no pruning before this many trials completed (5)',
            }),
          ),
          warmupSteps: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: LIMITS.pruneSteps,
              description: 'median: no pruning before this fine-tuning step (0)',
            }),
          ),
          minResource: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: LIMITS.pruneSteps,
              description: "asha: steps of the first rung (Optuna's auto when absent)",
            }),
          ),
          reductionFactor: Type.Optional(
            Type.Integer({
              minimum: 2,
              maximum: LIMITS.reductionFactor,
              description: 'asha: keep the top 1/this at each rung (4)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    kubernetes: KubernetesWorkload,
    search: Type.Optional(SearchSpec),
  },
  { additionalProperties: false },
);

/** Room for the trial name's 11-character hash suffix within Kubernetes' 63. */
export const MAX_SWEEP_NAME = 52;

export const Sweep = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal('Sweep'),
    metadata: Type.Object(
      {
        name: Type.String({
          minLength: 1,
          maxLength: MAX_SWEEP_NAME,
          pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        }),
        namespace: Type.Optional(Type.String()),
      },
      { additionalProperties: true },
    ),
    spec: SweepSpec,
  },
  { additionalProperties: true },
);

export type DatasetSourceSpec = Static<typeof DatasetSource>;
export type DatasetsSpec = Static<typeof Datasets>;
export type MaskEntrySpec = Static<typeof MaskEntry>;
export type AugmentationSpec = Static<typeof Augmentation>;
export type GridSpec = Static<typeof Grid>;
export type StageSpec = Static<typeof PretrainStage>;
export type ModelSpec = Static<typeof Model>;
export type SweepSpecType = Static<typeof SweepSpec>;
export type SweepResource = Static<typeof Sweep>;
export type KubernetesWorkloadSpec = Static<typeof KubernetesWorkload>;
