import type { BackendCandidate, BackendName } from './backend-candidate';
import { cpuCandidate } from './cpu-candidate';
import { nativeCandidate } from './native-candidate';
import { tensorflowCandidate } from './tensorflow-candidate';
import { wasmCandidate } from './wasm-candidate';

export * from './backend-candidate';
export { wasmBinaryFolder } from './wasm-candidate';

/** Every backend MAT knows, in the order `auto` tries them (fastest first). */
export const BACKEND_CANDIDATES: Readonly<Record<BackendName, BackendCandidate>> = {
  tensorflow: tensorflowCandidate,
  native: nativeCandidate,
  wasm: wasmCandidate,
  cpu: cpuCandidate,
};
