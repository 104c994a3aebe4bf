export { assignByName, loadTensors, saveTensors } from './checkpoint.js';
export { ClassifierHead, type ClassifierHeadArgs } from './convnext/classifier-head.js';
export { SparKDecoder, type SparKDecoderArgs } from './convnext/decoder.js';
export { ConvNeXtEncoder, type ConvNeXtEncoderArgs } from './convnext/encoder.js';
export {
  ConvNeXtClassifier,
  type ConvNeXtConfig,
  PATCH_SIZE,
  SparKNetwork,
} from './convnext/networks.js';
export { maskAt } from './convnext/ops.js';
