/**
 * Fine-tuning augmentations, one per trial, with their parameters and defaults. Defaults
 * follow the paper where it speaks (crop scale 0.08-1, ratio 3/4-4/3, flip 0.5) and
 * MMPreTrain's ConvNeXt recipe where it does not (Mixup alpha 0.8, CutMix alpha 1.0).
 */
export const AUGMENTATIONS = {
  none: {},
  randomResizedCrop: { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
  randomFlip: { p: 0.5 },
  mixup: { alpha: 0.8 },
  cutmix: { alpha: 1.0 },
} as const satisfies Record<string, Record<string, unknown>>;

export type AugmentationType = keyof typeof AUGMENTATIONS;
export const AUGMENTATION_TYPES = Object.keys(AUGMENTATIONS) as AugmentationType[];

/** One augmentation with every parameter filled in. */
export interface AugmentationSetting {
  type: AugmentationType;
  scale?: [number, number];
  ratio?: [number, number];
  p?: number;
  alpha?: number;
}
