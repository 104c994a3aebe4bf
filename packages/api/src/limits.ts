import { MAX_GRID_SIDE } from '@masksweep/masks';

/**
 * The maxima of a Sweep's sizes, counts and list lengths (docs/design.md#bounds). They are
 * generous for research and keep what validation, expansion and the controller do with a
 * Sweep bounded: a Sweep can neither ask for an image nobody can train on nor expand to
 * more trials than a cluster can hold. They are schema `maximum`/`maxItems`, so the CRDs
 * enforce them too; they are not part of any config, so no trial name depends on them.
 */
export const LIMITS = {
  /**
   * Bytes of a Sweep file (the paper's is 4 kB): the YAML parser costs some 20 µs a node, so
   * a file of 128 KiB is parsed in well under a second whatever it holds.
   */
  sweepFileBytes: 128 * 1024,
  /** Trials one Sweep may expand to (before duplicates across grids are removed). */
  trials: 10_000,
  /** 32 px per patch: the largest patch grid, 32x32. */
  imageSize: MAX_GRID_SIDE * 32,
  /** Phantom images generated in memory (a CT study has a few thousand slices). */
  phantomCount: 10_000,
  /** Largest seed of any generator (the seeded generator takes 32 bits). */
  seed: 2 ** 32 - 1,
  epochs: 10_000,
  batchSize: 4096,
  /** Seeds of a Sweep (the controller bench reaches 10,000 trials with 400). */
  seeds: 1000,
  grids: 64,
  masksPerGrid: 32,
  augmentationsPerGrid: 32,
  /** Values of one mask entry's `ratios` or `sizes`. */
  axisValues: 32,
  /**
   * Mask values of a whole Sweep (its grids' `ratios` and `sizes` together): each is resolved
   * and checked on its own, and 64 grids x 32 entries x 32 values cost the controller seconds.
   */
  sweepMaskValues: 2048,
  /** Largest square mask side, in patches. */
  maskSize: MAX_GRID_SIDE,
  /** Channels of any layer (ConvNeXt and ResNet stages, ViT, decoders). */
  width: 4096,
  /** Blocks of a stage or transformer (ConvNeXt stage depths, ViT and decoder depths). */
  depth: 64,
  heads: 64,
  vitPatchSize: 64,
  parallelism: 1000,
  retries: 100,
  /** Fine-tuning steps named by the pruner (warmupSteps, minResource). */
  pruneSteps: 1_000_000_000,
  /**
   * Parameters of `spec.search` and the values of one categorical (or of a condition's
   * `in`): each is checked against every distinct setting of the grids it applies to.
   */
  searchParameters: 32,
  searchChoices: 64,
  /**
   * Checks of a search's values (low, high, choices) against the distinct stage, network,
   * mask and augmentation settings each applies to: a mask's check on a 32x32 grid costs up
   * to 70 µs, so 5,000 cost some 0.35 s.
   */
  searchChecks: 5_000,
  /** TPE's candidates per suggestion (Optuna: 24): a suggestion's cost grows with them. */
  eiCandidates: 1000,
  /** Magnitude of an int search's bounds and step (no integer field of a config is larger). */
  searchInt: 1_000_000_000,
  /** Characters of a searched path (`finetune.lr`). */
  searchPath: 128,
  reductionFactor: 100,
  gpus: 64,
  tolerations: 64,
  nodeSelectorLabels: 64,
  /**
   * Characters of the free strings a Trial or Job copies (every Trial holds the data paths,
   * every Job the trial with its grids' names): without them a Sweep of 1 MB could make each
   * of 10,000 Trials 1 MB, past what etcd stores.
   */
  pathLength: 4096,
  columnName: 256,
  /** A label value's 63: a grid name is shown beside trials like one. */
  gridName: 63,
  image: 1024,
  /** A Kubernetes object name (DNS subdomain), e.g. serviceAccountName. */
  objectName: 253,
  /** A label key (prefix/name) and a label value, of nodeSelector and tolerations. */
  labelKey: 317,
  labelValue: 63,
  quantity: 64,
} as const;
