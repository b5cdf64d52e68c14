import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Runs the built CLI as a user does (`npm test` builds with `tsc -b` before jest).
const BIN = path.join(__dirname, '..', '..', 'packages', 'cli', 'dist', 'bin.js');

function mat(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 300000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mat CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('rejects bad config files, values, presets and flags with a message naming the problem', () => {
    fs.writeFileSync(path.join(dir, 'broken.json'), '{ "peers": 2, ');
    let r = mat(['train', '--config', 'broken.json'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config file broken\.json is not valid JSON/);

    r = mat(['train', '--preset', 'quick', '--set', 'optim.lr=-1', '--set', 'peers=0'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/optim\.lr/);
    expect(r.stderr).toMatch(/peers/);

    r = mat(['train', '--preset', 'quick', '--peers', '3', '--peer-sample', '3'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/method\.peerSample/);
    r = mat(['train', '--preset', 'quick', '--max-staleness', '-1'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/train\.maxStaleness/);
    r = mat(['train', '--preset', 'quick', '--max-staleness', '1', '--runtime', 'in-process'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/maxStaleness/);

    r = mat(['train', '--preset', 'nope'], dir);
    expect(r.stderr).toMatch(/unknown preset "nope"/);

    r = mat(['train', '--bogus-flag'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bogus-flag/);

    r = mat(['eval', path.join(dir, 'no-such-run')], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no config\.json/);

    r = mat(['train', '--resume', path.join(dir, 'no-such-run')], dir);
    expect(r.stderr).toMatch(/no config\.json/);
  });

  it('trains, logs JSON lines, resumes and evaluates a tiny run', () => {
    const common = ['--preset', 'quick', '--train-subset', '32', '--test-subset', '8', '--batch-size', '8'];
    const flags = [
      ...common,
      '--attack-steps',
      '1',
      '--name',
      'tiny',
      '--set',
      'eval.attack.steps=1',
      '--backend',
      'wasm',
    ];
    let r = mat(['train', ...flags, '--max-steps', '1', '--log-format', 'json'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['info', 'progress', 'checkpoint', 'eval', 'summary']));
    const summary = events.find((e) => e.type === 'summary');
    expect(summary.stepsDone).toBe(1);
    expect(summary.metadata.backend.name).toBe('wasm');

    r = mat(['train', '--resume', path.join(dir, 'runs', 'tiny'), '--max-steps', '2'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/resumed at step 1/);
    expect(r.stdout).toMatch(/2\/\d+ steps/);

    r = mat(['eval', path.join(dir, 'runs', 'tiny'), '--attack-steps', '2', '--backend', 'wasm'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/step 2/);
    expect(r.stdout).toMatch(/peer 0\s+peer 1\s+ensemble/);
    expect(r.stdout).toMatch(/clean\s+[\d.]+%\s+[\d.]+%\s+[\d.]+%/);
    expect(r.stdout).toMatch(/PGD-2 linf 0\.1\s+[\d.]+%/);
    expect(r.stdout).toMatch(/union all norms\s+[\d.]+%/);

    // Attacks × norms × eps, union and ensemble, JSON results in the run directory.
    r = mat(
      [
        'eval',
        path.join(dir, 'runs', 'tiny'),
        '--attacks',
        'pgd,apgd-ce,apgd-t,square',
        '--norms',
        'linf,l2,l1',
        '--eps',
        'linf=0.1,l2=1.5,l1=10',
        '--steps',
        '2',
        '--apgd-steps',
        '2',
        '--queries',
        '5',
        '--targets',
        '2',
        '--backend',
        'wasm',
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/APGD-T l1 10\s+[\d.]+%/);
    expect(r.stdout).toMatch(/union l2 1\.5\s+[\d.]+%/);
    expect(r.stdout).toMatch(/skipped: square l1/);
    const file = path.join(dir, 'runs', 'tiny', 'eval-step2-pgd+apgd-ce+apgd-t+square-linf+l2+l1.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(saved).toMatchObject({ kind: 'mat-eval', step: 2, count: 8, eps: { linf: 0.1, l2: 1.5, l1: 10 } });
    expect(saved.models.map((m: { model: string }) => m.model)).toEqual(['peer 0', 'peer 1', 'ensemble']);
    expect(saved.models[2].results).toHaveLength(11);

    r = mat(['report', path.join(dir, 'runs', 'tiny')], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/report of tiny: \d+ plots, 2 evaluation\(s\)/);
    for (const f of ['report.json', 'report.md', 'report.html'])
      expect(fs.existsSync(path.join(dir, 'runs', 'tiny', f))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'runs', 'tiny', 'report.md'), 'utf8')).toMatch(/\*\*union l1\*\*/);

    r = mat(['eval', path.join(dir, 'runs', 'tiny'), '--attacks', 'pgd,nope'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--attacks: unknown attack 'nope'; known: fgsm, pgd/);
    r = mat(['eval', path.join(dir, 'runs', 'tiny'), '--eps', 'l3=1'], dir);
    expect(r.stderr).toMatch(/--eps: unknown norm 'l3'/);
  });

  it('doctor reports backends, GPU expectations, Redis and datasets as JSON', () => {
    const r = mat(['doctor', '--json'], dir);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const names = report.backends.map((b: { name: string }) => b.name);
    expect(names).toEqual(expect.arrayContaining(['tensorflow', 'wasm', 'cpu']));
    expect(report.backends.find((b: { name: string }) => b.name === 'wasm').available).toBe(true);
    expect(report.gpuExpectations).toMatch(/CUDA/);
    expect(report.redis.ok).toBe(true); // .ci/run starts Redis
    expect(report.datasets.find((d: { name: string }) => d.name === 'fashion-mnist').ok).toBe(true);
    expect(report.datasets.find((d: { name: string }) => d.name === 'cifar10').ok).toBe(false);
  });
});
