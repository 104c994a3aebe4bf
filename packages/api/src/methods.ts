/**
 * The pre-training methods of the study. `usesMask` says whether the trial's mask axis
 * applies: SimCLR has no mask and MFF draws its own MAE mask, so for them the mask is not
 * part of the trial and grids that differ only in masks collapse to one trial.
 */
export const METHODS = {
  spark: {
    usesMask: true,
    model: 'convnext',
    summary: 'SparK: sparse ConvNeXt encoder + light decoder',
  },
  'spark-dense': {
    usesMask: true,
    model: 'convnext',
    summary: "SparK with a dense encoder (no re-masking), the paper's Table 9 ablation",
  },
  simclr: { usesMask: false, model: 'resnet', summary: 'SimCLR: ResNet + NT-Xent over two views' },
  mff: { usesMask: false, model: 'vit', summary: 'MFF: MAE ViT with multi-level feature fusion' },
} as const;

export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];
