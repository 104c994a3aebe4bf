export {
  compareBackends,
  type HostTensor,
  onBackend,
  relativeError,
  seededValues,
} from './compare-backends.js';
export {
  isMasksweepKernel,
  registerWasmKernels,
  unregisterWasmKernels,
  WASM_KERNEL_NAMES,
} from './register-wasm-kernels.js';
export {
  BACKEND_CHOICES,
  BACKEND_ENV,
  type BackendChoice,
  type BackendInfo,
  currentBackend,
  type InitBackendOptions,
  initBackend,
} from './select-backend.js';
