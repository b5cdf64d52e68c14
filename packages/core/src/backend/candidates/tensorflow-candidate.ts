import * as tf from '@tensorflow/tfjs-core';
import { applyGpuEnvironmentDefaults } from '../gpu-environment';
import { optionalRequire } from '../optional-require';
import type { BackendCandidate } from './backend-candidate';

/** libtensorflow through tfjs-node(-gpu): both are optionalDependencies, absent on most machines. */
const PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export const tensorflowCandidate: BackendCandidate = {
  name: 'tensorflow',
  async prepare() {
    const reasons: string[] = [];
    // Read once by libtensorflow and the CUDA driver when they load: set before the first require.
    applyGpuEnvironmentDefaults();
    for (const name of PACKAGES) {
      const loaded = optionalRequire<{ version?: Record<string, string> }>(name);
      if (!loaded.ok) {
        reasons.push(loaded.reason);
        continue;
      }
      // The addon registers 'tensorflow' on the tfjs-core it resolves; a second copy of tfjs-core would
      // leave ours without it.
      if (tf.findBackendFactory('tensorflow') == null) {
        reasons.push(`${name} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs-core`);
        continue;
      }
      return { tfName: 'tensorflow', details: { package: name, versions: loaded.module.version } };
    }
    throw new Error(reasons.join('; '));
  },
};
