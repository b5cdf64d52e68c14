import * as tf from '@tensorflow/tfjs-core';
import { listAvailableBackends, selectBackend, type BackendRequest } from '@mat/core';

/** Whether a package is installed here (the tensorflow backend tests adapt to machines that have it). */
function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
const hasTfjsNode = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

describe('selectBackend', () => {
  it('selects cpu on request', async () => {
    const info = await selectBackend('cpu');
    expect(info).toMatchObject({
      name: 'cpu',
      selected: 'cpu',
      requested: 'cpu',
      tfjsVersion: tf.version_core,
      reasonsSkipped: {},
    });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('selects wasm on request and reports SIMD, threads and the binary it loaded', async () => {
    const info = await selectBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.details).toMatchObject({
      simd: expect.any(Boolean),
      multithread: false, // tfjs disables wasm threads under Node
      threadsCount: 1,
      binary: expect.stringMatching(/^tfjs-backend-wasm(-simd)?\.wasm$/),
    });
    expect(info.details.binary === 'tfjs-backend-wasm-simd.wasm').toBe(info.details.simd);
    const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    expect(Array.from(await sum.data())).toEqual([4, 6]);
    sum.dispose();
  });

  it('auto takes the first backend that works and says why earlier ones were skipped', async () => {
    const info = await selectBackend();
    expect(info.requested).toBe('auto');
    const order = ['tensorflow', 'native', 'wasm', 'cpu'];
    // Every backend before the chosen one was tried and has a reason; none after it was tried.
    expect(Object.keys(info.reasonsSkipped)).toEqual(order.slice(0, order.indexOf(info.selected)));
    // wasm always works here, so auto never falls back to cpu.
    expect(hasTfjsNode ? ['tensorflow', 'native', 'wasm'] : ['native', 'wasm']).toContain(info.selected);
    for (const reason of Object.values(info.reasonsSkipped)) expect(reason).toMatch(/\S/);
    if (!hasTfjsNode) {
      expect(info.reasonsSkipped.tensorflow).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
      expect(info.reasonsSkipped.tensorflow).toMatch(/@tensorflow\/tfjs-node is not installed/);
    }
  });

  it('gives the tensorflow backend when requested, or explains why it is unavailable', async () => {
    await selectBackend('cpu');
    if (hasTfjsNode) {
      expect((await selectBackend('tensorflow')).name).toBe('tensorflow');
      return;
    }
    await expect(selectBackend('tensorflow')).rejects.toThrow(
      /backend 'tensorflow' is unavailable: .*@tensorflow\/tfjs-node.* is not installed/,
    );
    expect(tf.getBackend()).toBe('cpu'); // still usable after the failed request
  });

  it('rejects an unknown backend name', async () => {
    await expect(selectBackend('gpu' as BackendRequest)).rejects.toThrow(
      /unknown backend 'gpu'.*auto, tensorflow/,
    );
  });
});

describe('listAvailableBackends', () => {
  it('reports every backend, with reasons for the unavailable ones, and restores the active backend', async () => {
    await selectBackend('cpu');
    const list = await listAvailableBackends();
    expect(list.map((b) => b.name)).toEqual(['tensorflow', 'native', 'wasm', 'cpu']);
    const byName = Object.fromEntries(list.map((b) => [b.name, b]));
    expect(byName.cpu.available).toBe(true);
    expect(byName.wasm).toMatchObject({ available: true, details: { simd: expect.any(Boolean) } });
    for (const b of list) expect(b.available || /\S/.test(b.reason ?? '')).toBe(true);
    if (!hasTfjsNode)
      expect(byName.tensorflow).toMatchObject({
        available: false,
        reason: expect.stringMatching(/not installed/),
      });
    expect(tf.getBackend()).toBe('cpu');
  });
});
