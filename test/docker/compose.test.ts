import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/**
 * docker-compose.yml as Docker sees it: `docker-compose config` (Debian's docker-compose) validates and
 * normalises the file; its YAML is read with PyYAML, which docker-compose itself depends on, so the test
 * needs nothing else. Then: the services, their commands, scaling, the GPU reservation, healthchecks,
 * and that the GPU image carries the CUDA/cuDNN versions that tfjs-node-gpu needs.
 */

const ROOT = path.join(__dirname, '..', '..');
const PASSWORD = `pw${process.pid}x${Date.now().toString(16)}`;
const EXCHANGE_SECRET = `exchange-secret-${process.pid}-${Date.now().toString(16)}`;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<string | { published?: number | string; target: number }>;
  container_name?: string;
  hostname?: string;
  profiles?: string[];
  restart?: string;
  healthcheck?: { test: string[]; interval?: string };
  deploy?: { resources?: { reservations?: { devices?: Array<Record<string, unknown>> } } };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}

function compose(args: string[], env: Record<string, string | undefined>) {
  const childEnv = { ...process.env, ...env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete childEnv[k];
  return spawnSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), ...args], {
    cwd: ROOT,
    env: childEnv,
    encoding: 'utf8',
  });
}

function yamlToJson(text: string): unknown {
  const r = spawnSync(
    'python3',
    ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`PyYAML could not read docker-compose config output: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const commandText = (s: Service) => (s.command ?? []).join(' ');

describe('docker-compose.yml', () => {
  let services: Record<string, Service>;

  beforeAll(() => {
    const which = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (which.error || which.status !== 0)
      throw new Error('docker-compose not found: install the Debian package docker-compose');
    const r = compose(['config'], {
      REDIS_PASSWORD: PASSWORD,
      MAT_EXCHANGE_SECRET: EXCHANGE_SECRET,
      MAT_DASHBOARD_TOKEN: undefined,
      MAT_PRESET: undefined,
    });
    if (r.status !== 0) throw new Error(`docker-compose config failed:\n${r.stderr}`);
    services = (yamlToJson(r.stdout) as { services: Record<string, Service> }).services;
  });

  it('has redis, the data service, coordinator, GPU and CPU workers and the dashboard, running the mat commands', () => {
    expect(Object.keys(services).sort()).toEqual([
      'coordinator',
      'dashboard',
      'data',
      'redis',
      'worker',
      'worker-cpu',
    ]);
    expect(commandText(services.coordinator)).toMatch(/exec mat coordinator --redis-url "\$\$MAT_REDIS_URL"/);
    expect(commandText(services.coordinator)).toMatch(/--config "\$\$MAT_CONFIG"/);
    expect(commandText(services.coordinator)).toMatch(/--preset "\$\$MAT_PRESET"/);
    expect(services.coordinator.environment?.MAT_PRESET).toBe('quick');
    // Workers join the run the coordinator's config names (its run id), not "the one active run".
    for (const w of ['worker', 'worker-cpu']) {
      expect(commandText(services[w])).toMatch(/exec mat worker --redis-url "\$\$MAT_REDIS_URL" "\$\$@"/);
      expect(commandText(services[w])).toMatch(/--config "\$\$MAT_CONFIG"/);
      expect(commandText(services[w])).toMatch(/--preset "\$\$MAT_PRESET"/);
    }
    expect(commandText(services.dashboard)).toBe(
      'mat dashboard --host 0.0.0.0 --port 8080 --redis-url redis://redis:6379/0',
    );
    expect(services.worker.build?.dockerfile).toBe('docker/Dockerfile.gpu');
    for (const s of ['data', 'coordinator', 'worker-cpu', 'dashboard'])
      expect(services[s].build?.dockerfile).toBe('docker/Dockerfile.cpu');
    expect(services['worker-cpu'].profiles).toEqual(['cpu']);
  });

  it('passes the Redis password through the environment only, and requires one', () => {
    expect(commandText(services.redis)).toMatch(/--requirepass "\$\$REDIS_PASSWORD"/);
    expect(services.redis.environment?.REDIS_PASSWORD).toBe(PASSWORD);
    for (const s of ['coordinator', 'worker', 'worker-cpu', 'dashboard']) {
      expect(services[s].environment?.MAT_REDIS_URL).toBe('redis://redis:6379/0');
      expect(services[s].environment?.MAT_REDIS_PASSWORD).toBe(PASSWORD);
    }
    for (const [name, s] of Object.entries(services)) {
      expect([name, commandText(s)]).not.toEqual([name, expect.stringContaining(PASSWORD)]);
      expect([name, JSON.stringify(s.healthcheck)]).not.toEqual([name, expect.stringContaining(PASSWORD)]);
    }
    // Redis is reachable only inside the compose network.
    expect(services.redis.ports ?? []).toEqual([]);

    const r = compose(['config', '-q'], { REDIS_PASSWORD: undefined, MAT_EXCHANGE_SECRET: EXCHANGE_SECRET });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set REDIS_PASSWORD/);
  });

  it('gives the workers, and only them, the exchange secret by environment, and requires one', () => {
    for (const s of ['worker', 'worker-cpu'])
      expect(services[s].environment?.MAT_EXCHANGE_SECRET).toBe(EXCHANGE_SECRET);
    for (const s of ['redis', 'coordinator', 'dashboard', 'data'])
      expect(services[s].environment?.MAT_EXCHANGE_SECRET).toBeUndefined();
    for (const [name, s] of Object.entries(services))
      expect([name, commandText(s)]).not.toEqual([name, expect.stringContaining(EXCHANGE_SECRET)]);
    const r = compose(['config', '-q'], { REDIS_PASSWORD: PASSWORD, MAT_EXCHANGE_SECRET: undefined });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set MAT_EXCHANGE_SECRET/);
  });

  it('fetches the dataset once, before the coordinator and the workers start, into the mat-data volume', () => {
    const data = services.data;
    expect(commandText(data)).toMatch(/exec mat data fetch --data-dir \/app\/data "\$\$@"/);
    expect(commandText(data)).toMatch(/--mirror "\$\$MAT_DATA_MIRROR"/);
    expect(data.restart).toBe('no');
    expect(data.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^mat-data:\/app\/data/)]));
    expect(data.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/\/data:\/mirror:ro$/)]));
    for (const s of ['coordinator', 'worker', 'worker-cpu'])
      expect(services[s].depends_on?.data?.condition).toBe('service_completed_successfully');
  });

  it('restarts the coordinator and the workers only when they fail, never after a finished run', () => {
    for (const s of ['coordinator', 'worker', 'worker-cpu'])
      expect([s, services[s].restart]).toEqual([s, 'on-failure']);
    for (const s of ['redis', 'dashboard']) expect([s, services[s].restart]).toEqual([s, 'unless-stopped']);
  });

  it("runs Redis through the image's entrypoint, which drops root for the redis user", () => {
    expect(commandText(services.redis)).toMatch(/^sh -c exec docker-entrypoint\.sh redis-server /);
  });

  it('lets workers scale: no container name, hostname or host port', () => {
    for (const w of ['worker', 'worker-cpu']) {
      const s = services[w];
      expect(s.container_name).toBeUndefined();
      expect(s.hostname).toBeUndefined();
      expect(s.ports ?? []).toEqual([]);
      expect(s.depends_on?.redis?.condition).toBe('service_healthy');
      // Spares take over from checkpoints: every worker sees the same runs volume.
      expect(s.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^mat-runs:\/app\/runs/)]));
    }
    expect(services.coordinator.volumes).toEqual(
      expect.arrayContaining([expect.stringMatching(/^mat-runs:\/app\/runs/)]),
    );
    const r = compose(['config', '-q'], { REDIS_PASSWORD: PASSWORD, MAT_EXCHANGE_SECRET: EXCHANGE_SECRET });
    expect(r.status).toBe(0);
  });

  it('reserves NVIDIA GPUs for the GPU worker only', () => {
    const devices = services.worker.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ driver: 'nvidia', capabilities: ['gpu'] });
    expect(devices[0].count === 'all' || typeof devices[0].count === 'number').toBe(true);
    for (const s of ['redis', 'coordinator', 'worker-cpu', 'dashboard'])
      expect(services[s].deploy?.resources?.reservations?.devices).toBeUndefined();
  });

  it('makes every GPU worker take its own GPU (mat worker --gpu auto) from one pool per host', () => {
    // Every replica sees all GPUs (count: all); MAT_GPU=auto is the default of `mat worker --gpu`.
    expect(services.worker.environment?.MAT_GPU).toBe('auto');
    expect(services.worker.environment?.MAT_GPU_POOL).toMatch(/^[A-Za-z0-9][\w.-]*$/);
    expect(services.worker.environment?.MAT_HEALTH_MAX_AGE_S).toBe('30');
    expect(services['worker-cpu'].environment?.MAT_GPU).toBeUndefined();
    // Memory as needed, and one PTX JIT cache for all GPU workers, kept in a volume across restarts.
    expect(services.worker.environment).toMatchObject({
      TF_FORCE_GPU_ALLOW_GROWTH: 'true',
      CUDA_CACHE_PATH: '/cuda-cache',
      CUDA_CACHE_MAXSIZE: String(2 ** 32),
    });
    expect(services.worker.volumes).toEqual(
      expect.arrayContaining([expect.stringMatching(/^cuda-cache:\/cuda-cache/)]),
    );
    const r = compose(['config'], {
      REDIS_PASSWORD: PASSWORD,
      MAT_EXCHANGE_SECRET: EXCHANGE_SECRET,
      MAT_GPU_POOL: 'box-7',
    });
    expect(r.status).toBe(0);
    const custom = (yamlToJson(r.stdout) as { services: Record<string, Service> }).services;
    expect(custom.worker.environment?.MAT_GPU_POOL).toBe('box-7');
  });

  it('gives every long-running service a healthcheck that exists in the image', () => {
    // The one-shot data service has none: Compose waits for it to exit 0 instead.
    for (const [name, s] of Object.entries(services).filter(([n]) => n !== 'data')) {
      expect([name, (s.healthcheck?.test ?? []).length > 1]).toEqual([name, true]);
      expect(['CMD', 'CMD-SHELL']).toContain(s.healthcheck?.test[0]);
    }
    const script = (s: Service) => s.healthcheck?.test.slice(1).join(' ');
    expect(script(services.coordinator)).toBe('node /app/docker/healthcheck.js redis');
    for (const w of ['worker', 'worker-cpu'])
      expect(script(services[w])).toBe('node /app/docker/healthcheck.js worker');
    expect(fs.existsSync(path.join(ROOT, 'docker', 'healthcheck.js'))).toBe(true);
    expect(script(services.dashboard)).toMatch(/http:\/\/127\.0\.0\.1:8080\/healthz/);
    expect(script(services.redis)).toMatch(/redis-cli ping/);
    // The dashboard's container port is the one its command listens on; the host side defaults to loopback.
    expect(services.dashboard.ports).toHaveLength(1);
    expect(JSON.stringify(services.dashboard.ports)).toMatch(/127\.0\.0\.1:8080:8080/);
  });
});

describe('Dockerfiles', () => {
  const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');

  it('GPU image: CUDA 11.8 + cuDNN 8.9 by default, the CUDA 11.2 base as the alternative, as mat doctor says', () => {
    const gpu = read('docker/Dockerfile.gpu');
    const arg = (name: string) => new RegExp(`^ARG ${name}=(.*)$`, 'm').exec(gpu)?.[1];
    const base = /^nvidia\/cuda:(\d+)\.(\d+)\.\d+-cudnn(\d+)-runtime-ubuntu[\d.]+$/.exec(
      arg('CUDA_IMAGE') ?? '',
    );
    expect(base?.slice(1)).toEqual(['11', '8', '8']);
    expect(arg('CUDNN_EXPECTED')).toBe('8.9');
    expect(arg('CUDNN_VERSION')).toMatch(/^8\.9\.[\d.]+-1\+cuda11\.8$/);
    expect(gpu).toMatch(/FROM \$\{CUDA_IMAGE\}/);
    expect(gpu).toMatch(/check-cuda-libs "\$CUDNN_EXPECTED"/);
    // The alternative, spelled out as a complete command.
    expect(gpu).toContain('--build-arg CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04');
    expect(gpu).toContain('--build-arg CUDNN_VERSION= --build-arg CUDNN_EXPECTED=8.1');
    expect(gpu).toMatch(/TF_FORCE_GPU_ALLOW_GROWTH=true/);
    expect(gpu).toMatch(/CUDA_CACHE_PATH=\/cuda-cache/);
    const doctor = read('packages/cli/src/commands/doctor.ts');
    expect(doctor).toMatch(/CUDA 11\.8 \+ cuDNN 8\.9/);
    expect(doctor).toMatch(/CUDA 11\.2 \+ cuDNN 8\.1/);
    expect(read('docs/gpu.md')).toContain('nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04');
    expect(read('docs/distributed.md')).toContain('CUDA 11.8');
  });

  it('CPU image: node 20 on Debian bookworm, npm ci from the lockfile, a mat command', () => {
    const cpu = read('docker/Dockerfile.cpu');
    expect(cpu.match(/^FROM node:20-bookworm-slim/gm)).toHaveLength(2);
    expect(cpu).toMatch(/npm ci /);
    expect(cpu).toMatch(/\/usr\/local\/bin\/mat/);
  });

  it('.dockerignore keeps local installs and runs out but the sources in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', 'runs', 'data', '.env']));
    // The same secrets stay out of git.
    const gitignored = spawnSync('git', ['check-ignore', '-q', '.env'], { cwd: ROOT });
    expect(gitignored.status).toBe(0);
    for (const needed of ['packages', 'docker', 'package-lock.json', 'tsconfig.json'])
      expect(ignored).not.toContain(needed);
  });
});
