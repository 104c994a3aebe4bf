export {
  compareBackends,
  type HostTensor,
  onBackend,
  relativeError,
  seededValues,
} from './backend/compare-backends.js';
export {
  isMasksweepKernel,
  registerWasmKernels,
  unregisterWasmKernels,
  WASM_KERNEL_NAMES,
} from './backend/register-wasm-kernels.js';
export {
  BACKEND_CHOICES,
  BACKEND_ENV,
  type BackendChoice,
  type BackendInfo,
  currentBackend,
  type InitBackendOptions,
  initBackend,
} from './backend/select-backend.js';
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
