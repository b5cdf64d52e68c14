import { spawnSync } from 'child_process';
import * as path from 'path';

// docker/check-cuda-libs.sh, which the GPU image's build runs on its base image, fed with what `ldconfig -p`
// and dpkg print in CUDA images (no NVIDIA image can be pulled here): it must pass the CUDA 11 + cuDNN 8
// libraries libtensorflow 2.9.1 opens, and fail clearly on a CUDA 12 / cuDNN 9 base or the wrong cuDNN.

const SCRIPT = path.join(__dirname, '..', '..', 'docker', 'check-cuda-libs.sh');

const CUDA_11 = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
];
const ldconfig = (sonames: string[]) =>
  `${sonames.length} libs found in cache \`/etc/ld.so.cache'\n` +
  sonames.map((s) => `\t${s} (libc6,x86-64) => /usr/local/cuda/targets/x86_64-linux/lib/${s}`).join('\n');

function check(want: string, sonames: string[], cudnnPackage: string) {
  const r = spawnSync('sh', [SCRIPT, want], {
    env: {
      PATH: process.env.PATH,
      LDCONFIG_P_OUTPUT: ldconfig(sonames),
      CUDNN_PACKAGE_VERSION: cudnnPackage,
    },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('docker/check-cuda-libs.sh (GPU image build check)', () => {
  it('passes CUDA 11.8 + cuDNN 8.9 and the CUDA 11.2 + cuDNN 8.1 alternative', () => {
    expect(check('8.9', [...CUDA_11, 'libcudnn.so.8'], '8.9.7.29-1+cuda11.8')).toEqual({
      code: 0,
      out: 'check-cuda-libs: CUDA 11 libraries and cuDNN 8.9.7.29-1+cuda11.8 present\n',
    });
    expect(check('8.1', [...CUDA_11, 'libcudnn.so.8'], '8.1.1.33-1+cuda11.2').code).toBe(0);
  });

  it('fails on CUDA 12 / cuDNN 9 libraries, naming what is missing', () => {
    const cuda12 = [
      'libcudart.so.12',
      'libcublas.so.12',
      'libcublasLt.so.12',
      'libcufft.so.11',
      'libcudnn.so.9',
    ];
    const r = check('8.9', cuda12, '9.0.0.312-1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /missing: libcudart\.so\.11\.0 libcublas\.so\.11 .* libcudnn\.so\.8 \(libtensorflow 2\.9\.1 needs CUDA 11\.x/,
    );
    // A lookalike name does not count (libcudart.so.11.0 must be that soname, not a prefix of another).
    expect(
      check('8.9', [...CUDA_11.slice(1), 'libcudart.so.11.0.221', 'libcudnn.so.8'], '8.9.7.29-1+cuda11.8')
        .code,
    ).toBe(1);
  });

  it('fails when cuDNN is not the release asked for, saying how to pin it', () => {
    const r = check('8.9', [...CUDA_11, 'libcudnn.so.8'], '8.6.0.163-1+cuda11.8');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/has cuDNN 8\.6\.0\.163-1\+cuda11\.8, not 8\.9\.x: set CUDNN_VERSION/);
    expect(check('8.9', [...CUDA_11, 'libcudnn.so.8'], '').out).toMatch(/cannot tell the cuDNN version/);
  });
});
