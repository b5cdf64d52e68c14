import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  formatGpuReport,
  gpuReport,
  jitCache,
  kernelSource,
  parseGpuQuery,
  queryGpus,
  type NvidiaSmi,
} from '../../packages/cli/src/gpu-report';

// nvidia-smi output as drivers print it (--format=csv,noheader,nounits); no GPU on this machine.
const A100_AND_T4 = '0, NVIDIA A100-SXM4-80GB, 8.0, 535.104.05, 81920\n1, Tesla T4, 7.5, 535.104.05, 15360\n';
const fakeSmi = (answers: Array<string | Error>): NvidiaSmi & { calls: string[][] } => {
  const calls: string[][] = [];
  const f = ((args: string[]) => {
    calls.push(args);
    return answers[calls.length - 1] ?? new Error('unexpected call');
  }) as NvidiaSmi & { calls: string[][] };
  f.calls = calls;
  return f;
};

describe('mat doctor: GPUs for libtensorflow 2.9.1', () => {
  it('native kernels up to 7.5 (same major, equal or higher minor), PTX JIT from 8.0 on, nothing below 3.5', () => {
    const kinds = Object.fromEntries(
      ['3.0', '3.5', '3.7', '5.2', '6.1', '7.0', '7.2', '7.5', '8.0', '8.6', '8.9', '9.0', '12.0'].map(
        (c) => [c, kernelSource(c).kind],
      ),
    );
    expect(kinds).toEqual({
      '3.0': 'unsupported',
      '3.5': 'native',
      '3.7': 'native',
      '5.2': 'native',
      '6.1': 'native',
      '7.0': 'native',
      '7.2': 'native',
      '7.5': 'native',
      '8.0': 'ptx-jit',
      '8.6': 'ptx-jit',
      '8.9': 'ptx-jit',
      '9.0': 'ptx-jit',
      '12.0': 'ptx-jit',
    });
    expect(kernelSource('6.1')).toMatchObject({ sass: '6.0' });
    expect(kernelSource('7.2')).toMatchObject({ sass: '7.0' });
    expect(kernelSource('9.0').text).toMatch(/compiles its compute_80 PTX at the first start/);
    expect(kernelSource(undefined).kind).toBe('unknown');
  });

  it('reads compute capability, driver and memory from nvidia-smi; falls back when compute_cap is unknown', () => {
    expect(parseGpuQuery(A100_AND_T4)).toEqual([
      {
        index: '0',
        name: 'NVIDIA A100-SXM4-80GB',
        computeCapability: '8.0',
        driver: '535.104.05',
        memoryMiB: 81920,
      },
      { index: '1', name: 'Tesla T4', computeCapability: '7.5', driver: '535.104.05', memoryMiB: 15360 },
    ]);
    // An older nvidia-smi refuses the field: asked again without it.
    const old = fakeSmi([
      new Error('nvidia-smi failed: Field "compute_cap" is not a valid field to query.'),
      '0, Tesla V100-SXM2-16GB, 450.80.02, 16160\n',
    ]);
    expect(queryGpus(old)).toEqual({
      gpus: [
        {
          index: '0',
          name: 'Tesla V100-SXM2-16GB',
          computeCapability: undefined,
          driver: '450.80.02',
          memoryMiB: 16160,
        },
      ],
    });
    expect(old.calls[1].join(' ')).not.toContain('compute_cap');
    expect(queryGpus(fakeSmi([new Error('nvidia-smi not found')]))).toEqual({
      gpus: [],
      error: 'nvidia-smi not found',
    });
  });

  it('the JIT cache: path and size from the environment, what is in it, what is wrong', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-cuda-cache-'));
    try {
      fs.mkdirSync(path.join(dir, 'cache', '7'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'cache', '7', 'entry'), Buffer.alloc(1234));
      fs.writeFileSync(path.join(dir, 'cache', 'index'), Buffer.alloc(66));
      const c = jitCache({ CUDA_CACHE_PATH: path.join(dir, 'cache'), CUDA_CACHE_MAXSIZE: '4294967296' }, dir);
      expect(c).toMatchObject({
        path: path.join(dir, 'cache'),
        pathFrom: 'CUDA_CACHE_PATH',
        maxSizeBytes: 4294967296,
        exists: true,
        writable: true,
        sizeBytes: 1300,
        disabled: false,
        notes: [],
      });
      const unset = jitCache({ CUDA_CACHE_MAXSIZE: '8589934592', CUDA_CACHE_DISABLE: '1' }, dir);
      expect(unset.path).toBe(path.join(dir, '.nv', 'ComputeCache'));
      expect(unset.notes.join('\n')).toMatch(/above the driver's maximum/);
      expect(unset.notes.join('\n')).toMatch(/CUDA_CACHE_DISABLE=1/);
      expect(unset.notes.join('\n')).toMatch(/does not exist yet/);
      expect(unset.notes.join('\n')).toMatch(/CUDA_CACHE_PATH unset/);
      expect(jitCache({ CUDA_CACHE_MAXSIZE: 'lots' }, dir).notes.join()).toMatch(/not a number of bytes/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the report and its lines: per GPU compute capability and kernels; no GPU says why', () => {
    const r = gpuReport({
      smi: fakeSmi([A100_AND_T4]),
      env: { CUDA_VISIBLE_DEVICES: '1', CUDA_CACHE_PATH: '/nonexistent/cuda-cache' },
      home: '/nonexistent',
    });
    expect(r.gpus.map((g) => [g.index, g.kernels.kind])).toEqual([
      ['0', 'ptx-jit'],
      ['1', 'native'],
    ]);
    const text = formatGpuReport(r).join('\n');
    expect(text).toMatch(
      /0: NVIDIA A100-SXM4-80GB \(compute capability 8\.0, 81920 MiB, driver 535\.104\.05\)/,
    );
    expect(text).toMatch(/no native kernels for 8\.0/);
    expect(text).toMatch(
      /1: Tesla T4 .*\n\s+native kernels \(libtensorflow 2\.9\.1 has sm_75 machine code\)/,
    );
    expect(text).toMatch(/CUDA_VISIBLE_DEVICES=1/);
    expect(text).toMatch(/TF_FORCE_GPU_ALLOW_GROWTH=\(unset: the tensorflow backend sets true/);
    expect(text).toMatch(/CUDA JIT cache: \/nonexistent\/cuda-cache \(CUDA_CACHE_PATH\), max driver default/);
    const none = formatGpuReport(
      gpuReport({ smi: fakeSmi([new Error('nvidia-smi not found')]), env: {}, home: '/x' }),
    );
    expect(none[0]).toBe('gpus: none found (nvidia-smi not found)');
  });
});
