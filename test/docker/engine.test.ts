import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRunConfig, type RunConfig } from '@mat/core';
import { assertBuilt, checkpointState, maxAbsDiff, referenceState } from '../distributed/helpers';
import { freePort } from '../exchange/redis-helpers';

/**
 * docker-compose.yml on a real Docker engine, as a user runs it: Debian's engine (started here when none
 * answers), local stand-ins for the public base images (scripts/docker-stand-ins.sh), the CPU image built
 * from docker/Dockerfile.cpu, and the CPU profile with 2 CPU workers and the dashboard. The run's dataset
 * comes through the data service from the Debian package's directory (MAT_DATA_HOST_DIR, MAT_DATA_MIRROR).
 * One run goes to the end through a `docker kill` of a worker container, a crash of the other worker's
 * process, a stop and resume of the whole stack and a Redis restart, and its weights must equal the
 * in-process trainer's. Then: a finished run lets
 * `docker-compose up` return with every service down and exit code 0; a worker that has not joined a run
 * stops at once on `docker stop`; Redis does not run as root.
 *
 * The only change to the compose file is test/docker/compose.e2e.yml: the mat-runs volume is a host
 * directory, so that the test can hand over the run config and read the checkpoints. Images and stand-ins
 * stay on the machine after the test, so a second run reuses them.
 */

const ROOT = path.join(__dirname, '..', '..');
const PROJECT = 'mate2e';
const NAME = 'compose-e2e';
const STEPS = 200;
/** Steps between two faults: enough for the run to have moved on after the last one. */
const GAP = 35;
const DEBIAN_DATA = '/usr/share/datasets/fashion-mnist';
const MINUTE = 60000;

interface Result {
  code: number | null;
  /** stdout and stderr, interleaved */
  out: string;
  stdout: string;
}

/** Runs a command without blocking the event loop (the reference run's output must keep flowing). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 10 * MINUTE) {
  return new Promise<Result>((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      out += d;
      stdout += d;
    });
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[test: ${cmd} ${args.join(' ')} killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, stdout });
    });
  });
}

async function must(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number) {
  const r = await run(cmd, args, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.out.slice(-4000)}`);
  return r.out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function note(text: string): void {
  process.stderr.write(`[compose e2e] ${text}\n`);
}

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await f();
  note(`${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return value;
}

interface ContainerState {
  Status: string;
  ExitCode: number;
  Restarting: boolean;
}

describe('docker-compose on a real engine (CPU profile)', () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-compose-runs-'));
  const refDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-compose-ref-'));
  let env: NodeJS.ProcessEnv;
  let config: RunConfig;
  let reference: Promise<{ step: number; values: Float32Array[][] }>;
  let dashboardPort: number;
  const started = Date.now();

  const compose = (args: string[], timeoutMs?: number) =>
    run(
      'docker-compose',
      ['-p', PROJECT, '-f', 'docker-compose.yml', '-f', 'test/docker/compose.e2e.yml', ...args],
      env,
      timeoutMs,
    );
  const composeMust = async (args: string[], timeoutMs?: number) => {
    const r = await compose(args, timeoutMs);
    if (r.code !== 0)
      throw new Error(`docker-compose ${args.join(' ')} failed (${r.code}):\n${r.out.slice(-4000)}`);
    return r.stdout;
  };
  const upArgs = ['--profile', 'cpu', 'up', '--no-build', '--scale', 'worker-cpu=2'];
  const containers = async (service: string) =>
    (await composeMust(['ps', '-a', '-q', service])).split('\n').filter(Boolean);
  const state = async (id: string) =>
    JSON.parse(await must('docker', ['inspect', '-f', '{{json .State}}', id])) as ContainerState;
  const restarts = async (id: string) =>
    Number(await must('docker', ['inspect', '-f', '{{.RestartCount}}', id]));

  /** The highest step in the run's live metrics.jsonl (the coordinator appends a line per step). */
  function maxStep(): number {
    let text: string;
    try {
      text = fs.readFileSync(path.join(runsDir, NAME, 'metrics.jsonl'), 'utf8');
    } catch {
      return 0;
    }
    let max = 0;
    for (const line of text.split('\n')) {
      try {
        const l = JSON.parse(line) as { type?: string; step?: number };
        if (l.type === 'step' && typeof l.step === 'number') max = Math.max(max, l.step);
      } catch {
        // a line being appended
      }
    }
    return max;
  }

  async function untilStep(step: number, what: string): Promise<number> {
    const until = Date.now() + 10 * MINUTE;
    for (;;) {
      const now = maxStep();
      if (now >= step) {
        if (now >= STEPS) throw new Error(`the run reached its end before ${what} (step ${now})`);
        return now;
      }
      if (Date.now() > until) {
        const logs = await compose(['logs', '--tail', '30']);
        throw new Error(`no step ${step} within 10 minutes (at ${now}) for ${what}:\n${logs.out}`);
      }
      await sleep(250);
    }
  }

  async function exitOf(id: string, timeoutMs: number): Promise<ContainerState> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = await state(id);
      if (s.Status === 'exited' && !s.Restarting) return s;
      if (Date.now() > until) {
        const logs = await compose(['logs', '--no-color', '--tail', '60']);
        throw new Error(
          `container ${id} still ${s.Status} after ${timeoutMs} ms:\n${logs.out.slice(-20000)}`,
        );
      }
      await sleep(1000);
    }
  }

  beforeAll(async () => {
    assertBuilt();
    if (!fs.existsSync(path.join(DEBIAN_DATA, 'train-images-idx3-ubyte.gz')))
      throw new Error(
        `${DEBIAN_DATA} is missing: bash scripts/setup-system.sh test installs dataset-fashion-mnist`,
      );
    config = parseRunConfig({
      name: NAME,
      outDir: 'runs',
      seed: 11,
      peers: 2,
      backend: 'native',
      data: { dataset: 'fashion-mnist', trainSubset: 1600, testSubset: 100 },
      method: { distillWarmupSteps: 20 },
      attack: { eps: 0.1, stepSize: 0.1, steps: 1 },
      optim: { lr: 0.05, schedule: { type: 'cosine' } },
      train: { epochs: 2, batchSize: 16, checkpointEvery: 10 },
      eval: { everyEpoch: false, batchSize: 100, attack: { eps: 0.1, stepSize: 0.05, steps: 2 } },
    });
    // The reference trains on the host meanwhile (same config, the host's build of the native backend).
    reference = referenceState({ ...config, outDir: refDir });
    reference.catch(() => {}); // awaited in the test

    // The containers run as the image's user node (uid 1000) and write the runs there.
    fs.writeFileSync(path.join(runsDir, `${NAME}.json`), JSON.stringify(config));
    fs.chownSync(runsDir, 1000, 1000);
    dashboardPort = await freePort();
    env = {
      ...process.env,
      REDIS_PASSWORD: randomBytes(16).toString('hex'),
      MAT_EXCHANGE_SECRET: randomBytes(32).toString('hex'),
      MAT_CONFIG: `/app/runs/${NAME}.json`,
      MAT_PRESET: '',
      MAT_DATA_HOST_DIR: DEBIAN_DATA,
      MAT_DATA_MIRROR: '/mirror',
      MAT_DASHBOARD_PORT: String(dashboardPort),
      MAT_DASHBOARD_TOKEN: '',
      MAT_E2E_RUNS_DIR: runsDir,
    };

    await timed('engine', () => must('bash', ['scripts/ensure-docker.sh']));
    await timed('base image stand-ins', () =>
      must('bash', ['scripts/docker-stand-ins.sh'], process.env, 40 * MINUTE),
    );
    await composeMust(['down', '-v', '--remove-orphans']); // leftovers of an interrupted run
    await timed('mat:cpu image (docker-compose build coordinator)', () =>
      composeMust(['build', 'coordinator'], 40 * MINUTE),
    );
  }, 90 * MINUTE);

  afterAll(async () => {
    if (env) {
      const r = await compose(['down', '-v', '--remove-orphans']);
      if (r.code !== 0) note(`docker-compose down failed: ${r.out}`);
    }
    fs.rmSync(runsDir, { recursive: true, force: true });
    fs.rmSync(refDir, { recursive: true, force: true });
    note(`whole test: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }, 5 * MINUTE);

  it(
    'trains to the end through docker kill, a crash, a stop and resume and a Redis restart: the in-process weights',
    async () => {
      const trainStarted = Date.now();
      await composeMust([...upArgs, '-d', 'coordinator', 'worker-cpu', 'dashboard']);

      // The data service fetched the dataset into the mat-data volume, from the mounted directory.
      const [data] = await containers('data');
      expect(await exitOf(data, 5 * MINUTE)).toMatchObject({ ExitCode: 0 });
      const dataLog = (await run('docker', ['logs', data])).out;
      expect(dataLog).toContain('"url": "file:///mirror/train-images-idx3-ubyte.gz"');

      const killedAt = await untilStep(25, 'docker kill');
      const workers = await containers('worker-cpu');
      expect(workers).toHaveLength(2);
      const health = await fetch(`http://127.0.0.1:${dashboardPort}/healthz`);
      expect(health.status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${dashboardPort}/api/runs`)).text()).toContain(NAME);

      // `docker kill`: Docker counts it as a manual stop, so no restart policy brings the container back;
      // `up -d` again does, and every peer rolls back to the last committed checkpoint.
      await must('docker', ['kill', workers[0]]);
      note(`docker kill of a worker at step ${killedAt}`);
      await sleep(5000);
      expect(await state(workers[0])).toMatchObject({ Status: 'exited', ExitCode: 137, Restarting: false });
      await composeMust([...upArgs, '-d', 'coordinator', 'worker-cpu', 'dashboard']);

      // A crash: the other worker's process dies (SIGKILL from outside Docker); restart: on-failure
      // starts the container again.
      const crashedAt = await untilStep(killedAt + GAP, 'the crash');
      const pid = Number(await must('docker', ['inspect', '-f', '{{.State.Pid}}', workers[1]]));
      process.kill(pid, 'SIGKILL');
      note(`killed the process of the other worker at step ${crashedAt}`);

      const stoppedAt = await untilStep(crashedAt + GAP, 'the stop');
      expect(await restarts(workers[1])).toBeGreaterThanOrEqual(1);
      const stopStarted = Date.now();
      await composeMust(['stop']);
      const stopSeconds = (Date.now() - stopStarted) / 1000;
      note(`docker-compose stop at step ${stoppedAt}: ${stopSeconds.toFixed(0)} s`);
      // Graceful: each worker finished its step, checkpointed with the other and left (exit 0, not 137).
      for (const id of workers) expect(await state(id)).toMatchObject({ Status: 'exited', ExitCode: 0 });
      expect(stopSeconds).toBeLessThan(100); // the grace period is 2 minutes

      await composeMust([...upArgs, '-d', 'coordinator', 'worker-cpu', 'dashboard']);
      const restartedAt = await untilStep(stoppedAt + GAP, 'the Redis restart');
      await composeMust(['restart', 'redis']);
      note(`Redis restarted at step ${restartedAt}`);

      const [coordinator] = await containers('coordinator');
      expect(await exitOf(coordinator, 20 * MINUTE)).toMatchObject({ ExitCode: 0 });
      for (const id of await containers('worker-cpu'))
        expect(await exitOf(id, 2 * MINUTE)).toMatchObject({ ExitCode: 0 });
      note(`training through the faults: ${((Date.now() - trainStarted) / 1000).toFixed(0)} s`);
      const logs = (await compose(['logs', '--no-color', 'coordinator', 'worker-cpu'])).out;
      expect(logs).toMatch(/run compose-e2e: finished/);

      const fromDocker = checkpointState({ ...config, outDir: runsDir });
      const fromReference = await reference;
      expect(fromDocker.step).toBe(STEPS);
      expect(fromReference.step).toBe(STEPS);
      const diff = maxAbsDiff(fromDocker.values, fromReference.values);
      note(`max |w_docker - w_in-process| = ${diff}`);
      expect(diff).toBeLessThanOrEqual(1e-5);
    },
    60 * MINUTE,
  );

  it(
    'a finished run: `docker-compose up` returns, the coordinator and workers exit 0 and stay down',
    async () => {
      const r = await compose([...upArgs, 'coordinator', 'worker-cpu'], 5 * MINUTE);
      expect({ code: r.code, tail: r.code === 0 ? '' : r.out.slice(-3000) }).toEqual({ code: 0, tail: '' });
      expect(r.out).toMatch(/run compose-e2e: finished/);
      const ids = [...(await containers('coordinator')), ...(await containers('worker-cpu'))];
      const before = await Promise.all(ids.map(restarts));
      await sleep(15000); // a restart policy that restarts finished services would show by now
      for (const id of ids)
        expect(await state(id)).toMatchObject({ Status: 'exited', ExitCode: 0, Restarting: false });
      expect(await Promise.all(ids.map(restarts))).toEqual(before);
    },
    10 * MINUTE,
  );

  it(
    'a worker that has not joined a run stops at once on docker stop (SIGTERM to PID 1), exit code 0',
    async () => {
      await composeMust(['up', '-d', '--no-build', 'redis']);
      // A run that does not exist: the worker waits for it (up to its join timeout, 60 s).
      const id = (
        await composeMust([
          'run',
          '-d',
          '--no-deps',
          '-e',
          'MAT_CONFIG=',
          '-e',
          'MAT_PRESET=fmnist',
          'worker-cpu',
        ])
      ).trim();
      const until = Date.now() + 2 * MINUTE;
      const logsOf = async () => (await run('docker', ['logs', id])).out;
      while (!(await logsOf()).includes('connecting to')) {
        if (Date.now() > until) throw new Error(`the worker never started:\n${await logsOf()}`);
        await sleep(500);
      }
      const stopStarted = Date.now();
      await must('docker', ['stop', '-t', '50', id]);
      const seconds = (Date.now() - stopStarted) / 1000;
      const s = await state(id);
      const log = await logsOf();
      await run('docker', ['rm', '-f', id]);
      expect(log).toMatch(/SIGTERM before joining a run: exiting/);
      expect(s.ExitCode).toBe(0);
      expect(seconds).toBeLessThan(30); // the stop timeout is 50 s: without a handler it runs out
    },
    5 * MINUTE,
  );

  it('Redis runs as the redis user, not root', async () => {
    const [redis] = await containers('redis');
    expect((await state(redis)).Status).toBe('running');
    const out = await must('docker', [
      'exec',
      redis,
      'sh',
      '-c',
      'id -u redis; sed -n "s/^Uid:[[:space:]]*\\([0-9]*\\).*/\\1/p" /proc/1/status; stat -c %U /data/appendonlydir',
    ]);
    const [redisUid, processUid, dataOwner] = out.trim().split('\n');
    expect(redisUid).not.toBe('0');
    expect({ processUid, dataOwner }).toEqual({ processUid: redisUid, dataOwner: 'redis' });
  });
});
