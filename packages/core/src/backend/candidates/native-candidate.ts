import * as tf from '@tensorflow/tfjs-core';
import { optionalRequire } from '../optional-require';
import type { BackendCandidate } from './backend-candidate';

/** What MAT expects from the optional `@mat/native` workspace package. */
interface NativeModule {
  /** Registers the native backend with tfjs; false when the addon cannot run on this machine. */
  registerNativeBackend(): boolean;
  /** tfjs backend name it registers under; 'native' when the package does not say. */
  NATIVE_BACKEND_NAME?: string;
}

export const nativeCandidate: BackendCandidate = {
  name: 'native',
  async prepare() {
    const loaded = optionalRequire<NativeModule>('@mat/native');
    if (!loaded.ok) throw new Error(loaded.reason);
    const native = loaded.module;
    if (typeof native.registerNativeBackend !== 'function') {
      throw new Error('package @mat/native does not export registerNativeBackend()');
    }
    if (!native.registerNativeBackend()) {
      throw new Error(
        '@mat/native registerNativeBackend() returned false (addon unavailable on this machine)',
      );
    }
    const tfName = native.NATIVE_BACKEND_NAME ?? 'native';
    if (tf.findBackendFactory(tfName) == null) {
      throw new Error(`@mat/native reported success but no tfjs backend named '${tfName}' is registered`);
    }
    return { tfName, details: { package: '@mat/native' } };
  },
};
