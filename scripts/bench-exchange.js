#!/usr/bin/env node
/**
 * Benchmark of the distributed runtime (issue 3), written to bench-results/exchange.json:
 *
 *   1. publish → consume latency (p50 / p99) of a batch-128 Fashion-MNIST adversarial batch (x_i',
 *      [128, 28, 28, 1] float32, 401 KB) and of a teacher-label message ([2, 128, 10]) through Redis:
 *      encode + RPUSH/PEXPIRE + BLPOP + decode with full validation (crc32, shape, finiteness);
 *   2. the same 2-peer MAT run (fmnist-cnn, batch 128, PGD-5) three ways — in-process (1 process: both
 *      peers on one core), embedded (`--runtime processes`, one process per peer) and Redis (coordinator +
 *      2 workers) — giving the exchange's share of a worker's step time and the throughput of 2 workers on
 *      2 cores relative to the single process (target ≥ 90 % of 2×, i.e. a ratio ≥ 1.8);
 *   3. the machine's own ceiling for that ratio: two independent copies of the in-process run at once
 *      (nothing exchanged), against one alone. Two processes on two cores share the memory bandwidth and
 *      the last-level cache, so even with no communication at all they do not reach 2×.
 *
 *   node scripts/bench-exchange.js [--steps 30] [--backend auto] [--iterations 200] [--repeat 3]
 *
 * The runs are repeated (--repeat, default 3) and each ratio is reported as the median of the rounds with
 * every round's value beside it: on 2 cores one round's ratio moves by ±0.1 between minutes.
 *   (after `npx tsc -b`; Redis from $MAT_REDIS_URL or scripts/ensure-redis.sh on 127.0.0.1:6379)
 *
 * The machine's load is recorded: on a shared machine the numbers vary between runs.
 */
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { setImmediate } = require('timers');

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'packages/cli/dist/bin.js');
const { RedisPeerExchange, connectRedis, messageShapes, RUNS_INDEX_KEY } = require(
  path.join(root, 'packages/exchange/dist'),
);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const steps = Number(arg('steps', 30));
const backend = arg('backend', 'auto');
const iterations = Number(arg('iterations', 200));
const repeat = Number(arg('repeat', 3));
const warmupSteps = 2;
const redisUrl = process.env.MAT_REDIS_URL || 'redis://127.0.0.1:6379';

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (s) => +(s * 1000).toFixed(3);

async function deleteKeys(redis, pattern) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** 1. Latency of one message from publish() to the receiver's receive() resolving. */
async function latency(redis) {
  const runId = `bench-latency-${process.pid}`;
  const rules = {
    runId,
    peerCount: 2,
    shapes: messageShapes({ peerCount: 2, batchSize: 128, imageShape: [28, 28, 1], numClasses: 10 }),
  };
  const a = new RedisPeerExchange(redis, 0, rules, { generation: 1 });
  const b = new RedisPeerExchange(redis, 1, rules, { generation: 1 });
  const out = {};
  for (const kind of ['adv', 'labels']) {
    const shape = rules.shapes[kind];
    const data = new Float32Array(shape.reduce((x, y) => x * y, 1)).map((_, i) => Math.sin(i));
    const times = [];
    for (let i = 0; i < iterations + 10; i++) {
      const step = kind === 'adv' ? i : 100000 + i;
      const received = b.receive(kind, step, [0]);
      await new Promise((r) => setImmediate(r));
      const t0 = process.hrtime.bigint();
      await a.publish(kind, step, { shape, data }, [1]);
      await received;
      if (i >= 10) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    times.sort((x, y) => x - y);
    out[kind] = {
      shape,
      bytes: data.byteLength,
      iterations,
      p50_ms: ms(quantile(times, 0.5)),
      p99_ms: ms(quantile(times, 0.99)),
      mean_ms: ms(times.reduce((x, y) => x + y, 0) / times.length),
    };
  }
  await a.close();
  await b.close();
  await deleteKeys(redis, `mat:{${runId}}:*`);
  return out;
}

function benchConfig(outDir, name) {
  return {
    name,
    outDir,
    seed: 1,
    peers: 2,
    backend,
    data: { dataset: 'fashion-mnist', trainSubset: 128 * (steps + 1), testSubset: 128 },
    attack: { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 5 },
    optim: { lr: 0.05, schedule: { type: 'cosine' } },
    train: { epochs: 1, batchSize: 128, maxSteps: steps, checkpointEvery: 0 },
    eval: { everyEpoch: false, batchSize: 128, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
  };
}

function run(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`mat ${args[0]} exited ${code}:\n${text}`)),
    );
  });
}

/** Mean wall time per step (after the warm-up steps) from a run's metrics.jsonl. */
function stepSeconds(runDir) {
  const lines = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map(JSON.parse);
  const s = lines.filter((l) => l.type === 'step' && l.step > warmupSteps).map((l) => l.seconds);
  return s.reduce((x, y) => x + y, 0) / s.length;
}

async function trainRun(dir, name, runtime) {
  const config = benchConfig(dir, name);
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const text = await run(['train', '--config', file, '--runtime', runtime, '--log-format', 'json']);
  const backendLine = text.split('\n').find((l) => l.includes('"backend"'));
  const stepS = stepSeconds(path.join(dir, name));
  return {
    runtime,
    backend: backendLine ? JSON.parse(backendLine).backend?.name : undefined,
    step_s: +stepS.toFixed(4),
    img_per_s: +((2 * 128) / stepS).toFixed(1),
  };
}

async function redisRun(dir, redis, round) {
  const name = `bench-redis-${process.pid}-${round}`;
  const prefix = `qbench${process.pid}`;
  const config = benchConfig(dir, name);
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const common = ['--redis-url', redisUrl, '--queue-prefix', prefix];
  const coordinator = run(['coordinator', '--config', file, ...common]);
  const workers = [0, 1].map(() => run(['worker', '--run', name, ...common]));
  await coordinator;
  await Promise.all(workers);
  // Per step and peer, from the metrics stream: the step's wall time and the time spent publishing and
  // waiting for the other peer's messages.
  const rows = await redis.xrange(`mat:{${name}}:metrics`, '-', '+');
  const entries = rows
    .map(([, f]) => JSON.parse(f[f.indexOf('m') + 1]))
    .filter((m) => m.type === 'step' && m.step > warmupSteps);
  const sum = (k) => entries.reduce((x, m) => x + m[k], 0);
  const stepS = sum('stepSeconds') / entries.length;
  await deleteKeys(redis, `mat:{${name}}:*`);
  await deleteKeys(redis, `${prefix}:*`);
  await redis.srem(RUNS_INDEX_KEY, name);
  return {
    runtime: 'redis (coordinator + 2 workers)',
    step_s: +stepS.toFixed(4),
    img_per_s: +((2 * 128) / stepS).toFixed(1),
    exchange_s: +(sum('exchangeSeconds') / entries.length).toFixed(4),
    exchange_share: +(sum('exchangeSeconds') / sum('stepSeconds')).toFixed(4),
  };
}

/** One round: the 1-process baseline, two independent copies of it at once, processes, Redis. */
async function runRound(dir, redis, r) {
  const inProcess = await trainRun(dir, `bench-inprocess-${r}`, 'in-process');
  console.log(JSON.stringify(inProcess));
  const copies = await Promise.all(
    ['a', 'b'].map((c) => trainRun(dir, `bench-copy-${c}-${r}`, 'in-process')),
  );
  const ceiling = +((2 * inProcess.step_s) / ((copies[0].step_s + copies[1].step_s) / 2)).toFixed(3);
  console.log(JSON.stringify({ twoIndependentCopies: copies.map((c) => c.step_s), ceiling }));
  const processes = await trainRun(dir, `bench-processes-${r}`, 'processes');
  console.log(JSON.stringify(processes));
  const viaRedis = await redisRun(dir, redis, r);
  console.log(JSON.stringify(viaRedis));
  return {
    runs: { inProcess, twoIndependentCopies: copies, processes, redis: viaRedis },
    ratios: {
      redis: +(inProcess.step_s / viaRedis.step_s).toFixed(3),
      processes: +(inProcess.step_s / processes.step_s).toFixed(3),
      ceiling,
      exchangeShare: viaRedis.exchange_share,
    },
  };
}

async function main() {
  if (!fs.existsSync(cli)) throw new Error('build first: npx tsc -b');
  if (/127\.0\.0\.1|localhost/.test(redisUrl)) {
    const port = /:(\d+)/.exec(redisUrl.replace(/^\w+:\/\//, ''))?.[1] || '6379';
    execFileSync(path.join(__dirname, 'ensure-redis.sh'), {
      env: { ...process.env, REDIS_PORT: port },
      stdio: 'inherit',
    });
  }
  const loadStart = os.loadavg();
  const redis = await connectRedis({ url: redisUrl, password: process.env.MAT_REDIS_PASSWORD });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-bench-exchange-'));
  try {
    console.log(`latency: ${iterations} messages of each kind through ${redisUrl}`);
    const lat = await latency(redis);
    console.log(JSON.stringify(lat));
    console.log(
      `runs: 2 peers, fmnist-cnn, batch 128, PGD-5, ${steps} steps (first ${warmupSteps} not timed)`,
    );
    const rounds = [];
    for (let r = 0; r < repeat; r++) {
      console.log(`round ${r + 1} of ${repeat}`);
      rounds.push(await runRound(dir, redis, r));
    }
    const median = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const ratios = (key) => rounds.map((round) => round.ratios[key]);
    const summary = (key) => ({ median: median(ratios(key)), rounds: ratios(key) });
    const mid = rounds.find((round) => round.ratios.redis === median(ratios('redis'))) ?? rounds[0];
    const result = {
      date: new Date().toISOString(),
      command: `node scripts/bench-exchange.js ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.cpus().length,
        node: process.version,
        loadavg_start: loadStart.map((x) => +x.toFixed(2)),
        loadavg_end: os.loadavg().map((x) => +x.toFixed(2)),
      },
      latency: lat,
      workload: {
        peers: 2,
        arch: 'fmnist-cnn',
        batch: 128,
        attack: 'PGD-5 linf',
        steps,
        timedSteps: steps - warmupSteps,
        backend: mid.runs.inProcess.backend,
        rounds: repeat,
      },
      /** The round whose Redis ratio is the median. */
      runs: mid.runs,
      rounds: rounds.map((round) => round.runs),
      exchange_share: summary('exchangeShare'),
      /** Compute the transfer itself costs per step: 2 publishes + 2 receives of the measured latencies. */
      transfer_share_estimate: +((lat.adv.p50_ms + lat.labels.p50_ms) / 1000 / mid.runs.redis.step_s).toFixed(
        4,
      ),
      throughput_ratio: {
        redis_2_workers_vs_1_process: summary('redis'),
        processes_vs_1_process: summary('processes'),
        /** Two independent 1-process runs at once vs one alone: what 2 cores give with no exchange at all. */
        machine_ceiling_2_independent_copies: summary('ceiling'),
      },
      targets: { exchange_share_max: 0.05, throughput_ratio_min: 1.8 },
    };
    fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
    const file = path.join(root, 'bench-results', 'exchange.json');
    fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${path.relative(root, file)}`);
  } finally {
    redis.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench-exchange: ${err.message}`);
  process.exit(1);
});
