export { assignByName, loadTensors, readCheckpointMeta, saveTensors } from './checkpoint.js';
export { ClassifierHead, type ClassifierHeadArgs } from './convnext/classifier-head.js';
export { SparKDecoder, type SparKDecoderArgs } from './convnext/decoder.js';
export { ConvNeXtEncoder, type ConvNeXtEncoderArgs } from './convnext/encoder.js';
export { convnextEncoderMacs, type EncoderShape, sparkDecoderMacs } from './convnext/macs.js';
export {
  ConvNeXtClassifier,
  type ConvNeXtConfig,
  PATCH_SIZE,
  SparKNetwork,
} from './convnext/networks.js';
export { maskAt } from './convnext/ops.js';
export { LinearHead, type LinearHeadArgs } from './resnet/linear-head.js';
export { nonLinearNeckMacs, type ResNetShape, resnetMacs } from './resnet/macs.js';
export {
  ResNetClassifier,
  type ResNetConfig,
  type SimCLRConfig,
  SimCLRNetwork,
} from './resnet/networks.js';
export { NonLinearNeck, type NonLinearNeckArgs } from './resnet/non-linear-neck.js';
export {
  BLOCK_EXPANSION,
  RESNET_LAYOUTS,
  RESNET_WIDTHS,
  type ResidualBlockType,
  ResNet,
  type ResNetArgs,
  type ResNetDepth,
} from './resnet/resnet.js';
export { MaeDecoder, type MaeDecoderArgs } from './vit/decoder.js';
export { ViTEncoder, type ViTEncoderArgs } from './vit/encoder.js';
export {
  MFF_LAYERS_VIT_B,
  MultiLevelFusion,
  type MultiLevelFusionArgs,
  mffFusionLayers,
} from './vit/fusion.js';
export { type MffShape, mffMacs, transformerMacs, vitMacs } from './vit/macs.js';
export { MffNetwork, ViTClassifier, type ViTConfig } from './vit/networks.js';
export {
  keptIds,
  type MaeMask,
  maeKeepCount,
  maeRandomMask,
  removedMap,
  restoreIds,
} from './vit/random-masking.js';
