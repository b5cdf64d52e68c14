import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// scripts/gpu-check.sh on this machine, which has no GPU: it must fail at once, say why and what to do, and
// write nothing. With a stand-in nvidia-smi that lists a GPU it gets past the GPU check and fails on the
// next missing piece (no @tensorflow/tfjs-node-gpu here), again writing nothing.

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'gpu-check.sh');

describe('scripts/gpu-check.sh without a GPU', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-gpu-check-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(pathPrefix: string[] = []) {
    const out = path.join(dir, 'gpu.json');
    const r = spawnSync('bash', [SCRIPT, '--out', out], {
      env: { ...process.env, PATH: [...pathPrefix, process.env.PATH].join(':') },
      encoding: 'utf8',
      timeout: 120000,
    });
    return { code: r.status, stderr: r.stderr, wrote: fs.existsSync(out), out };
  }

  it('no nvidia-smi: fails at the doctor step, names the missing GPU, writes nothing', () => {
    const r = run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /gpu-check: no GPU: nvidia-smi not found \(needs an NVIDIA GPU, its driver and nvidia-smi/,
    );
    expect(r.stderr).toContain(`FAILED, nothing written to ${r.out}`);
    expect(r.wrote).toBe(false);
  });

  it('a GPU listed but no tfjs-node-gpu: fails on the backend, saying what to install', () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    // What nvidia-smi --query-gpu=... --format=csv,noheader,nounits prints for one A100.
    fs.writeFileSync(
      path.join(bin, 'nvidia-smi'),
      '#!/bin/sh\necho "0, NVIDIA A100-SXM4-80GB, 8.0, 535.104.05, 81920"\n',
      { mode: 0o755 },
    );
    const r = run([bin]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the tensorflow backend does not load: .*tfjs-node-gpu.*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/,
    );
    expect(r.wrote).toBe(false);
  });
});
