import '@tensorflow/tfjs-backend-cpu';
import type { BackendCandidate } from './backend-candidate';

/** tfjs's plain-JS backend: always present, the slowest, and the reference the other backends are tested against. */
export const cpuCandidate: BackendCandidate = {
  name: 'cpu',
  async prepare() {
    return { tfName: 'cpu', details: {} };
  },
};
