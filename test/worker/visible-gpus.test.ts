import { findVisibleGpus } from '@mat/worker';

const SMI = 'GPU 0: Tesla T4 (UUID: GPU-aaaa)\nGPU 1: Tesla T4 (UUID: GPU-bbbb)\n';
const noSmi = () => undefined;

describe('findVisibleGpus (mat worker --gpu auto)', () => {
  it('--gpu-count wins over everything', () => {
    const r = findVisibleGpus({ count: 3, env: { CUDA_VISIBLE_DEVICES: '5' }, nvidiaSmi: () => SMI });
    expect(r).toEqual({
      gpus: [
        { id: '0', cuda: '0' },
        { id: '1', cuda: '1' },
        { id: '2', cuda: '2' },
      ],
      source: '--gpu-count',
    });
  });

  it('CUDA_VISIBLE_DEVICES: its entries, set as they are', () => {
    const r = findVisibleGpus({ env: { CUDA_VISIBLE_DEVICES: '2, 3', NVIDIA_VISIBLE_DEVICES: '0' } });
    expect(r).toEqual({
      gpus: [
        { id: '2', cuda: '2' },
        { id: '3', cuda: '3' },
      ],
      source: 'CUDA_VISIBLE_DEVICES',
    });
    for (const none of ['', '-1', 'NoDevFiles'])
      expect(findVisibleGpus({ env: { CUDA_VISIBLE_DEVICES: none }, nvidiaSmi: () => SMI }).gpus).toEqual([]);
  });

  it('NVIDIA_VISIBLE_DEVICES (containers): the machine ids, numbered from 0 inside', () => {
    const r = findVisibleGpus({ env: { NVIDIA_VISIBLE_DEVICES: '1,3' }, nvidiaSmi: noSmi });
    expect(r.gpus).toEqual([
      { id: '1', cuda: '0' },
      { id: '3', cuda: '1' },
    ]);
    expect(findVisibleGpus({ env: { NVIDIA_VISIBLE_DEVICES: 'void' }, nvidiaSmi: () => SMI }).gpus).toEqual(
      [],
    );
  });

  it('NVIDIA_VISIBLE_DEVICES=all or nothing set: nvidia-smi -L, else no GPU', () => {
    const all = findVisibleGpus({ env: { NVIDIA_VISIBLE_DEVICES: 'all' }, nvidiaSmi: () => SMI });
    expect(all).toEqual({
      gpus: [
        { id: '0', cuda: '0' },
        { id: '1', cuda: '1' },
      ],
      source: 'nvidia-smi -L',
    });
    expect(findVisibleGpus({ env: {}, nvidiaSmi: noSmi })).toEqual({
      gpus: [],
      source: 'nvidia-smi -L (not found)',
    });
    expect(findVisibleGpus({ env: {}, nvidiaSmi: () => 'No devices found.\n' }).gpus).toEqual([]);
  });
});
