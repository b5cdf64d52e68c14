import { applyGpuEnvironmentDefaults, GPU_ENVIRONMENT_DEFAULTS, selectBackend } from '@mat/core';

describe('GPU environment defaults (read once by libtensorflow and the CUDA driver)', () => {
  it('sets allow-growth and the JIT cache size when unset, keeps what the user set', () => {
    const env: NodeJS.ProcessEnv = { CUDA_CACHE_MAXSIZE: '1073741824', TF_FORCE_GPU_ALLOW_GROWTH: '' };
    expect(applyGpuEnvironmentDefaults(env)).toEqual(['TF_FORCE_GPU_ALLOW_GROWTH']);
    expect(env).toEqual({ CUDA_CACHE_MAXSIZE: '1073741824', TF_FORCE_GPU_ALLOW_GROWTH: 'true' });
    const empty: NodeJS.ProcessEnv = {};
    expect(applyGpuEnvironmentDefaults(empty).sort()).toEqual([
      'CUDA_CACHE_MAXSIZE',
      'TF_FORCE_GPU_ALLOW_GROWTH',
    ]);
    // 4 GiB: the largest cache the CUDA driver accepts.
    expect(Number(empty.CUDA_CACHE_MAXSIZE)).toBe(2 ** 32);
    expect(empty).toEqual(GPU_ENVIRONMENT_DEFAULTS);
  });

  it('the tensorflow backend sets them before it tries to load libtensorflow', async () => {
    const saved = { ...process.env };
    try {
      delete process.env.TF_FORCE_GPU_ALLOW_GROWTH;
      delete process.env.CUDA_CACHE_MAXSIZE;
      // Loads or fails (no tfjs-node here): either way the environment was prepared first.
      await selectBackend('tensorflow').catch(() => undefined);
      expect(process.env.TF_FORCE_GPU_ALLOW_GROWTH).toBe('true');
      expect(process.env.CUDA_CACHE_MAXSIZE).toBe(String(2 ** 32));
    } finally {
      for (const k of ['TF_FORCE_GPU_ALLOW_GROWTH', 'CUDA_CACHE_MAXSIZE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await selectBackend('cpu');
    }
  });
});
