import * as tf from '@tensorflow/tfjs-core';
import { registerCpuKernels } from './register-cpu-kernels';
import { registerTrainingGradients } from './register-gradients';

export * from './select-backend';
export {
  applyGpuEnvironmentDefaults,
  GPU_ENVIRONMENT_DEFAULTS,
  libtensorflowLoaded,
} from './gpu-environment';
export { BACKEND_NAMES, type BackendName } from './candidates';
export { registerTrainingGradients, MISSING_GRADIENTS, GRADIENT_FIXES } from './register-gradients';
export { registerCpuKernels, CPU_KERNEL_FIXES } from './register-cpu-kernels';
export {
  registerWasmKernels,
  WASM_MISSING_KERNELS,
  WASM_KERNEL_FIXES,
  WASM_TRAINING_KERNELS,
} from './register-wasm-kernels';

// Gradients are backend-independent and every trainer, attack and test differentiates, and cpu is the
// default backend, so both are fixed up as soon as MAT's core is imported, not only when a backend is
// selected. (The wasm kernels are registered by selectBackend, after the wasm package has loaded.)
registerTrainingGradients();
registerCpuKernels();
// The cpu-derived backends print an "install tfjs-node" banner on their first tensor, which any user of
// MAT's core meets (cpu is the default backend) whether or not a backend is selected; MAT chooses and
// reports its backend itself, so the banner only misleads. PROD only silences tfjs's console warnings.
tf.env().set('PROD', true);
