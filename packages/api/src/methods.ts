/**
 * The methods of the study. `usesMask` says whether the trial's mask axis applies: SimCLR
 * has no mask, MFF draws its own MAE mask and scratch pre-trains nothing, so for them the
 * mask is not part of the trial and grids that differ only in masks collapse to one trial.
 * `pretrains` says whether the method has a pre-training stage: a scratch trial fine-tunes
 * a randomly initialised network and has no pre-training key.
 */
export const METHODS = {
  spark: {
    usesMask: true,
    pretrains: true,
    model: 'convnext',
    summary: 'SparK: sparse ConvNeXt encoder + light decoder',
  },
  'spark-dense': {
    usesMask: true,
    pretrains: true,
    model: 'convnext',
    summary: "SparK with a dense encoder (no re-masking), the paper's Table 9 ablation",
  },
  simclr: {
    usesMask: false,
    pretrains: true,
    model: 'resnet',
    summary: 'SimCLR: ResNet + NT-Xent over two views',
  },
  mff: {
    usesMask: false,
    pretrains: true,
    model: 'vit',
    summary: 'MFF: MAE ViT with multi-level feature fusion',
  },
  scratch: {
    usesMask: false,
    pretrains: false,
    model: 'convnext',
    summary: "no pre-training: SparK's ConvNeXt classifier, randomly initialised and fine-tuned",
  },
} as const;

export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];
