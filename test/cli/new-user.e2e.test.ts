import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PRESET_NAMES } from '@mat/core';
import { assertBuilt, CLI, spawnMat, waitFor } from '../distributed/helpers';
import { freePort, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

// What a new user meets first, on the built CLI: `npx mat`, the help texts, a quiet import of the core, a
// clear way out when the data cannot be had, a worker that stops when asked.

const ROOT = path.join(__dirname, '..', '..');

function node(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a new user', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-new-user-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs `npx mat` from the project root after npm install', () => {
    // --no-install: never a package of that name from the registry, only the project's own command.
    const r = spawnSync('npx', ['--no-install', 'mat', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect({ code: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/mat coordinator/);
  });

  it('sees every preset in `mat coordinator --help` and `mat train --help`', () => {
    for (const command of ['coordinator', 'train']) {
      const r = node([CLI, command, '--help']);
      expect(r.code).toBe(0);
      const listed = /Start from a preset: ([\w, -]+)/.exec(r.stdout.replace(/\s+/g, ' '))?.[1];
      expect([command, listed?.split(', ').map((p) => p.trim())]).toEqual([command, PRESET_NAMES]);
    }
    expect(PRESET_NAMES).toContain('quick-mp');
  });

  it("imports @mat/core and computes on its default backend without tfjs's install-tfjs-node banner", () => {
    const script =
      `require(${JSON.stringify(path.join(ROOT, 'packages/core/dist/index.js'))});` +
      "const tf = require('@tensorflow/tfjs-core');" +
      'const t = tf.tensor([1, 2, 3]).square(); console.log(tf.getBackend(), Array.from(t.dataSync()).join());';
    const r = node(['-e', script]);
    expect(r).toEqual({ code: 0, stdout: 'cpu 1,4,9\n', stderr: '' });
  });

  it('is told every way out when a dataset cannot be downloaded, and finds no empty directory left', async () => {
    fs.mkdirSync(path.join(dir, 'unreachable'));
    const dataDir = path.join(dir, 'unreachable', 'data');
    const port = await freePort(); // nothing listens there
    const r = node([
      CLI,
      'data',
      'fetch',
      'mnist',
      '--data-dir',
      dataDir,
      '--mirror',
      `http://127.0.0.1:${port}/`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: mnist: could not download train-images-idx3-ubyte\.gz: .*ECONNREFUSED/);
    expect(r.stderr).toMatch(/ways out: .*--data-dir DIR.*mat data fetch mnist --data-dir .* --mirror URL/);
    expect(fs.readdirSync(path.join(dir, 'unreachable'))).toEqual([]);
  });

  it("fetches a preset's dataset with `mat data fetch --preset` (the data service's command)", () => {
    const r = node([CLI, 'data', 'fetch', '--preset', 'quick', '--data-dir', path.join(dir, 'data')]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'fashion-mnist' });
    const both = node([CLI, 'data', 'fetch', 'mnist', '--preset', 'quick']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/name a dataset or give --preset\/--config, not both/);
  });

  it('stops a worker that is still waiting for its run at once on SIGTERM, with exit code 0', async () => {
    const worker = spawnMat(['worker', '--run', uniqueRunId('never'), '--redis-url', REDIS_URL]);
    await waitFor(() => worker.output().includes('connecting to'), 'the worker to start', 60000);
    const sent = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(20000); // its join timeout is 60 s
    expect(worker.output()).toMatch(/SIGTERM before joining a run: exiting/);

    const both = await new Promise<string>((resolve) => {
      const p = spawnMat(['worker', '--preset', 'quick', '--config', 'x.json', '--redis-url', REDIS_URL]);
      void p.exited.then(() => resolve(p.output()));
    });
    expect(both).toMatch(/give --preset or --config, not both/);
  });
});
