import { registerTrainingGradients } from './register-gradients';

export * from './select-backend';
export { BACKEND_NAMES, type BackendName } from './candidates';
export { registerTrainingGradients, MISSING_GRADIENTS, GRADIENT_FIXES } from './register-gradients';
export {
  registerWasmKernels,
  WASM_MISSING_KERNELS,
  WASM_KERNEL_FIXES,
  WASM_TRAINING_KERNELS,
} from './register-wasm-kernels';

// Gradients are backend-independent and every trainer, attack and test differentiates, so they are
// registered as soon as MAT's core is imported rather than only when a backend is selected.
registerTrainingGradients();
