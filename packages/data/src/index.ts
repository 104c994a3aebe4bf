export {
  type BatchAugmentName,
  type CropBox,
  type CutMixBatch,
  cropAndResize,
  cutmix,
  DEFAULT_BATCH_ALPHAS,
  type LabelledBatch,
  type MixedBatch,
  mixup,
  oneHot,
  type RandomResizedCropOptions,
  randomBatchAugment,
  randomFlip,
  randomResizedCrop,
  randomResizedCropBox,
} from './augment.js';
export { classWeights } from './class-weights.js';
export { countLabels, type LoadedDataset, type LoadOptions, loadDataset } from './dataset.js';
export {
  CROP_SOURCE_SCALE,
  DecodeError,
  type DecodeOptions,
  decodeGray,
  encodeGrayPng,
  GRAY_IMAGENET,
  type NormalizeStats,
  normalize,
  type ResizeMode,
} from './decode.js';
export { blankGrayImage, type GrayImage, type GraySource } from './gray-image.js';
export {
  type ClassReport,
  type DatasetReport,
  type FormatCount,
  inspectDataset,
  type SizeSummary,
} from './inspect.js';
export {
  type LabelOptions,
  type LabelTable,
  readLabels,
  type Sample,
  type SkippedFile,
  SUSPECT_REASON,
} from './labels.js';
export {
  LESION_DEFAULTS,
  type LesionCenter,
  type LesionOptions,
  PHANTOM_CLASS_NAMES,
  type Phantom,
  type PhantomDatasetOptions,
  type PhantomOptions,
  renderPhantom,
  writePhantomDataset,
} from './phantom.js';
export {
  SPLIT_NAMES,
  type SplitFractions,
  type SplitName,
  type SplitOptions,
  type Splits,
  splitDataset,
} from './split.js';
