import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findLatestCheckpoint } from '@mat/core';
import { assertBuilt, runMat } from '../distributed/helpers';

jest.setTimeout(600000);

/** Every file under `dir`, relative, with its size. */
function files(dir: string): Array<{ file: string; size: number }> {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => ({ file: f, stat: fs.statSync(path.join(dir, f)) }))
    .filter((f) => f.stat.isFile())
    .map((f) => ({ file: f.file, size: f.stat.size }));
}

/**
 * A run directory on a disk that fills up (a tmpfs of 10 MB: the checkpoint at step 2 fits, the one at step
 * 4 does not). write(2) then takes what fits and returns a short count: a writer that trusts it renames a
 * truncated checkpoint file under its final name (write-file-atomic did). The run must end with an error
 * naming the file and the reason, leave no partial or temporary file, keep the checkpoint before intact,
 * and resume from it once there is room.
 */
describe('mat train on a disk that fills up', () => {
  let mount: string;
  beforeAll(() => {
    assertBuilt();
    if (process.getuid?.() !== 0) throw new Error('the full-disk test mounts a small tmpfs and needs root');
    mount = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=10m', 'tmpfs', mount]);
  });
  afterAll(() => {
    if (!mount) return;
    execFileSync('umount', [mount]);
    fs.rmSync(mount, { recursive: true, force: true });
  });

  it('fails naming the file and ENOSPC, keeps the last checkpoint whole, and resumes from it with room', async () => {
    const config = path.join(os.tmpdir(), `mat-full-disk-${process.pid}.json`);
    fs.writeFileSync(
      config,
      JSON.stringify({
        name: 'full',
        outDir: mount,
        seed: 3,
        peers: 2,
        backend: 'wasm',
        data: { dataset: 'fashion-mnist', trainSubset: 192, testSubset: 16 },
        attack: { eps: 0.1, stepSize: 0.05, steps: 1 },
        train: { epochs: 1, batchSize: 32, checkpointEvery: 2 },
        eval: { everyEpoch: false, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
      }),
    );
    const runDir = path.join(mount, 'full');
    try {
      const full = await runMat(['train', '--config', config]);
      expect(full.code).toBe(1);
      expect(full.output).toMatch(
        new RegExp(
          `cannot write ${runDir}/checkpoints/step-00000004/peer-[01]\\.safetensors: no space left on device \\(ENOSPC\\)`,
        ),
      );
      // Every peer file there is whole (the size of the step-2 ones), and nothing temporary is left.
      const written = files(runDir);
      const whole = written.find((f) => f.file === 'checkpoints/step-00000002/peer-0.safetensors')!.size;
      expect(whole).toBeGreaterThan(3_000_000);
      for (const f of written.filter((w) => w.file.endsWith('.safetensors')))
        expect(f).toEqual({ ...f, size: whole });
      expect(written.filter((f) => /\.tmp$|\/\./.test(f.file))).toEqual([]);
      expect(findLatestCheckpoint(runDir)?.step).toBe(2);

      execFileSync('mount', ['-o', 'remount,size=64m', mount]);
      const resumed = await runMat(['train', '--resume', runDir]);
      expect({ code: resumed.code, tail: resumed.code === 0 ? '' : resumed.output.slice(-3000) }).toEqual({
        code: 0,
        tail: '',
      });
      expect(resumed.output).toMatch(/step 2\b|from the checkpoint at step 2/);
      expect(findLatestCheckpoint(runDir)?.step).toBe(6);
      expect(JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'))).toMatchObject({
        stepsDone: 6,
        totalSteps: 6,
      });
    } finally {
      fs.rmSync(config, { force: true });
    }
  });
});
