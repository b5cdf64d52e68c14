import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, runMat, tinyConfig, writeConfig } from './helpers';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(300000);

const SCRIPT = path.resolve(__dirname, '../../scripts/run-local.sh');

// scripts/run-local.sh: Redis (already up here), a coordinator and N workers, all on this machine.
describe('scripts/run-local.sh', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-run-local-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs a coordinator and 3 workers (one spare) to the end; mat status shows the finished run', async () => {
    const config = tinyConfig(dir, uniqueRunId('local'), 2, {
      train: { epochs: 1, batchSize: 8, maxSteps: 6 },
    });
    const prefix = `q-${config.name}`;
    const child = spawn(SCRIPT, ['--workers', '3', '--', '--config', writeConfig(config)], {
      env: {
        ...process.env,
        MAT_REDIS_URL: REDIS_URL,
        MAT_LOG_DIR: path.join(dir, 'logs'),
        COMMON_ARGS: `--queue-prefix ${prefix}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    const logs = fs.readdirSync(path.join(dir, 'logs')).sort();
    expect(logs).toEqual(['coordinator.log', 'worker-0.log', 'worker-1.log', 'worker-2.log']);
    expect({ code, output }).toMatchObject({ code: 0, output: expect.stringMatching(/finished/) });
    const summary = JSON.parse(fs.readFileSync(path.join(dir, config.name, 'summary.json'), 'utf8'));
    expect(summary.stepsDone).toBe(6);

    const status = await runMat(['status', config.name, '--redis-url', REDIS_URL]);
    expect(status.output).toMatch(new RegExp(`run ${config.name}: finished, step 6/6, generation 1`));
    const list = await runMat(['status', '--json', '--redis-url', REDIS_URL]);
    expect(JSON.parse(list.output).runs).toContainEqual({
      id: config.name,
      status: 'finished',
      step: 6,
      lastStep: 6,
    });

    const redis = newRedis();
    await deleteRun(redis, config.name, prefix);
    redis.disconnect();
  });
  it('--gpus auto: each worker leases its own GPU of the machine before loading its backend', async () => {
    const config = tinyConfig(dir, uniqueRunId('localgpu'), 2, {
      train: { epochs: 1, batchSize: 8, maxSteps: 2 },
    });
    const prefix = `q-${config.name}`;
    const logDir = path.join(dir, 'logs-gpu');
    const child = spawn(SCRIPT, ['--workers', '2', '--gpus', 'auto', '--', '--config', writeConfig(config)], {
      env: {
        ...process.env,
        MAT_REDIS_URL: REDIS_URL,
        MAT_LOG_DIR: logDir,
        COMMON_ARGS: `--queue-prefix ${prefix}`,
        MAT_GPU_COUNT: '2', // no GPU here: the pool's size is given, the backend stays the run's
        MAT_GPU_POOL: `pool-${config.name}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    const leased = ['worker-0.log', 'worker-1.log']
      .map((f) => /CUDA_VISIBLE_DEVICES=(\d+)/.exec(fs.readFileSync(path.join(logDir, f), 'utf8'))?.[1])
      .sort();
    expect(leased).toEqual(['0', '1']);

    const redis = newRedis();
    await deleteRun(redis, config.name, prefix);
    await redis.del(`mat:gpus:{pool-${config.name}}`);
    redis.disconnect();
  });
});
