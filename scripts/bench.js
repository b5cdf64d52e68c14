#!/usr/bin/env node
/**
 * Engine benchmark: images/s of one PGD-10 adversarial-training step, per tfjs backend, beside PyTorch.
 *
 *   npm run bench                          # tsc -b, then everything (about 10-15 minutes on 2 cores)
 *   node scripts/bench.js --quick          # fmnist-cnn on native + wasm + PyTorch only (about 2 minutes)
 *   node scripts/bench.js --backends native --threads 1,2 --profile   # adds a per-kernel time table
 *
 * The workload is ../shared/reference/torch_pgd_at_bench.py's: fmnist-cnn, 28x28x1, batch 128, l-inf
 * PGD with eps 0.1, step 0.025, random start, 10 input-gradient steps, then one SGD update (lr 0.05,
 * momentum 0.9) on the adversarial batch; synthetic data. Also PreActResNet-18 on 32x32x3, batch 64 (fewer
 * timed steps; its PyTorch reference is scripts/reference/torch_model_at_bench.py, the same workload with the
 * torch_models.py PreActResNet18). Model, attack and optimiser are @mat/core's (createModel, PgdLinf, Sgd).
 * Opt-in (--models): ResNet-18 and WideResNet-34-10 on 32x32x3, batch 64, each beside the same
 * torch_model_at_bench.py workload with torch_models.py's ResNet18 / WideResNet(34, 10). WRN-34-10 is big
 * (about 19 TFLOP per AT step at batch 64: minutes per step per engine and thread count); --zoo-batch 16
 * shrinks it (for every model but fmnist-cnn, PyTorch's side too).
 *
 * Each measurement runs in a fresh child process (`--worker`), so backends, thread pools and buffer pools do
 * not interfere; PyTorch runs right before the native run it is compared with (same minute: the machine is
 * shared, so only ratios measured together mean much). Prints a table and writes bench-results/engine.json.
 *
 * Options: --backends native,wasm,cpu,tensorflow  --threads 1,2 (native)  --steps 5 (fmnist timed steps)
 *   --cpu-steps 1  --resnet-steps 1 (timed steps of every model but fmnist-cnn)  --no-resnet  --no-torch
 *   --profile  --quick  --out <file>
 *   --unfused (native: without the fused batch norm + ReLU kernel, to measure what it gains)
 *   --conv auto|im2col (native: Winograd for the 3x3 stride-1 layers it serves, the default, or im2col only)
 *   --models fmnist-cnn,preact-resnet18 (the default; also resnet18, wrn-34-10, or 'all')
 *   --zoo-batch 64 (batch of every model but fmnist-cnn)
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const TORCH_SCRIPT = path.resolve(ROOT, '..', 'shared', 'reference', 'torch_pgd_at_bench.py');
const TORCH_MODEL_SCRIPT = path.join(ROOT, 'scripts', 'reference', 'torch_model_at_bench.py');
const PYTHON = '/usr/bin/python3';

// The reference workloads: fmnist-cnn is torch_pgd_at_bench.py's; the others torch_model_at_bench.py's, under
// the same names there. `options` go to createModel.
const WORKLOADS = {
  'fmnist-cnn': { arch: 'fmnist-cnn', batch: 128, shape: [28, 28, 1] },
  'preact-resnet18': { arch: 'preact-resnet18', batch: 64, shape: [32, 32, 3] },
  resnet18: { arch: 'resnet18', batch: 64, shape: [32, 32, 3] },
  'wrn-34-10': { arch: 'wide-resnet', options: { depth: 34, widen: 10 }, batch: 64, shape: [32, 32, 3] },
};
const DEFAULT_MODELS = ['fmnist-cnn', 'preact-resnet18'];
const ATTACK = { eps: 0.1, stepSize: 0.025, steps: 10 };
const SGD = { lr: 0.05, momentum: 0.9 };

function parseArgs(argv) {
  const opts = {
    backends: ['native', 'wasm', 'cpu'],
    threads: [1, 2],
    steps: 5,
    cpuSteps: 1,
    resnetSteps: 1,
    models: [...DEFAULT_MODELS],
    zooBatch: null,
    torch: true,
    profile: false,
    unfused: false,
    conv: 'auto',
    out: path.join(ROOT, 'bench-results', 'engine.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`bench: ${a} needs a value`);
      return argv[++i];
    };
    const int = (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`bench: ${a} must be an integer >= 0, got '${v}'`);
      return n;
    };
    if (a === '--backends') opts.backends = next().split(',').filter(Boolean);
    else if (a === '--threads') opts.threads = next().split(',').map(int);
    else if (a === '--steps') opts.steps = int(next());
    else if (a === '--cpu-steps') opts.cpuSteps = int(next());
    else if (a === '--resnet-steps') opts.resnetSteps = int(next());
    else if (a === '--no-resnet') opts.models = opts.models.filter((m) => m !== 'preact-resnet18');
    else if (a === '--models') {
      const list = next().split(',').filter(Boolean);
      opts.models = list.includes('all') ? Object.keys(WORKLOADS) : list;
    } else if (a === '--zoo-batch') opts.zooBatch = int(next());
    else if (a === '--no-torch') opts.torch = false;
    else if (a === '--profile') opts.profile = true;
    else if (a === '--unfused') opts.unfused = true;
    else if (a === '--conv') opts.conv = next();
    else if (a === '--out') opts.out = path.resolve(next());
    else if (a === '--quick') {
      opts.backends = ['native', 'wasm'];
      opts.models = ['fmnist-cnn'];
      opts.steps = 3;
    } else throw new Error(`bench: unknown option '${a}' (see the header of scripts/bench.js)`);
  }
  for (const b of opts.backends)
    if (!['native', 'wasm', 'cpu', 'tensorflow'].includes(b))
      throw new Error(`bench: unknown backend '${b}'`);
  if (!['auto', 'im2col'].includes(opts.conv))
    throw new Error(`bench: --conv is auto or im2col, got '${opts.conv}'`);
  for (const m of opts.models)
    if (!WORKLOADS[m]) throw new Error(`bench: unknown model '${m}' (${Object.keys(WORKLOADS).join(', ')})`);
  if (opts.zooBatch === 0) throw new Error('bench: --zoo-batch must be >= 1');
  if (opts.zooBatch)
    for (const [name, w] of Object.entries(WORKLOADS)) if (name !== 'fmnist-cnn') w.batch = opts.zooBatch;
  return opts;
}

// ---------------------------------------------------------------------------------------------------------
// Worker: one backend, one workload, in this process.

/**
 * Wraps every kernel of the backend with timers (kernels run synchronously on CPU backends): wall time, and
 * process CPU time, which on a shared machine does not count the time spent waiting for a core.
 */
function instrumentKernels(tf, backendName) {
  const totals = {};
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const out = inner(args);
        const wall = Number(process.hrtime.bigint() - t0) / 1e6;
        const cpu = process.cpuUsage(c0);
        const entry = (totals[config.kernelName] ??= { ms: 0, cpuMs: 0, calls: 0 });
        entry.ms += wall;
        entry.cpuMs += (cpu.user + cpu.system) / 1000;
        entry.calls++;
        return out;
      },
    });
  }
  return totals;
}

async function runWorker(spec) {
  const tf = require('@tensorflow/tfjs-core');
  const core = require('@mat/core');
  const info = await core.selectBackend(spec.backend);
  let engine = { backend: info.name };
  if (spec.backend === 'native') {
    const native = require('@mat/native');
    native.setNativeThreads(spec.threads);
    // The models use the fused kernel while it is registered for the active backend (BatchNorm.applyRelu).
    if (spec.unfused) tf.unregisterKernel(native.BATCH_NORM_RELU_KERNEL, info.name);
    native.setNativeConvAlgorithm(spec.conv ?? 'auto');
    const n = native.nativeInfo();
    engine = {
      ...engine,
      simd: n.simd,
      threads: n.threads,
      microTile: n.microTile,
      fused: !spec.unfused,
      conv: n.convAlgorithm,
    };
  }
  const w = { ...WORKLOADS[spec.workload], ...(spec.batch ? { batch: spec.batch } : {}) };
  const rng = new core.Rng(1234);
  const model = core.createModel(w.arch, { seed: 1, ...w.options });
  const [h, wd, c] = w.shape;
  const x = tf.tensor4d(rng.fillUniform(new Float32Array(w.batch * h * wd * c)), [w.batch, h, wd, c]);
  const labels = Int32Array.from({ length: w.batch }, () => Math.floor(rng.uniform() * 10));
  const y = tf.tensor1d(labels, 'int32');
  const yOneHot = tf.oneHot(y, 10);
  const attack = new core.PgdLinf({ ...ATTACK, randomStart: true, rng: new core.Rng(99) });
  const sgd = new core.Sgd(model.params, { momentum: SGD.momentum, weightDecay: 0, nesterov: false });
  const byVarName = new Map(model.params.map((p) => [p.variable.name, p.name]));
  const vars = model.params.map((p) => p.variable);

  // One adversarial-training step: PGD-10 on the batch, then SGD on the loss of the adversarial batch.
  const atStep = () => {
    const xAdv = attack.attack(model, x, y);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(yOneHot, model.forward(xAdv, core.TRAIN_MODE)),
      vars,
    );
    const named = Object.fromEntries(Object.entries(grads).map(([k, g]) => [byVarName.get(k), g]));
    sgd.step(named, SGD.lr);
    value.dataSync(); // the step is done when its loss can be read
    tf.dispose([xAdv, value, ...Object.values(grads)]);
  };

  for (let i = 0; i < spec.warmup; i++) atStep();
  const totals = spec.profile ? instrumentKernels(tf, tf.getBackend()) : null;
  const takePoolStats = spec.backend === 'native' ? require('@mat/native').takeNativePoolStats : null;
  takePoolStats?.();
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < spec.steps; i++) {
    const t0 = process.hrtime.bigint();
    atStep();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const cpu = process.cpuUsage(cpu0);
  const pool = takePoolStats?.();
  const stepS = times.reduce((a, b) => a + b, 0) / times.length;
  const result = {
    ...engine,
    workload: spec.workload,
    batch: w.batch,
    steps: spec.steps,
    step_s: round(stepS, 4),
    best_step_s: round(Math.min(...times), 4),
    img_per_s: round(w.batch / stepS, 2),
    // CPU time of all threads per step: on a shared machine, wall time also counts waiting for a core.
    cpu_step_s: round((cpu.user + cpu.system) / 1e6 / spec.steps, 4),
  };
  if (pool && pool.calls > 0) {
    // How the native thread pool shared the work: parallel calls per step, the calling thread's share of
    // the chunks, and how long it waited for the other threads' last chunks.
    result.pool = {
      calls_per_step: round(pool.calls / spec.steps, 0),
      chunks_per_call: round(pool.chunks / pool.calls, 1),
      caller_chunk_share: round(pool.callerChunks / pool.chunks, 3),
      caller_wait_ms_per_step: round(pool.callerWaitMs / spec.steps, 1),
    };
  }
  if (totals) {
    const kernelMs = Object.values(totals).reduce((a, e) => a + e.ms, 0);
    result.kernels = Object.entries(totals)
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([name, e]) => ({
        name,
        calls_per_step: round(e.calls / spec.steps, 1),
        ms_per_step: round(e.ms / spec.steps, 2),
        cpu_ms_per_step: round(e.cpuMs / spec.steps, 2),
        share: round(e.ms / kernelMs, 4),
      }));
    result.kernel_ms_per_step = round(kernelMs / spec.steps, 1);
    result.kernel_cpu_ms_per_step = round(
      Object.values(totals).reduce((a, e) => a + e.cpuMs, 0) / spec.steps,
      1,
    );
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Parent: schedule workers and PyTorch, print and save.

function round(v, digits) {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function lastJsonLine(text) {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line);
    } catch {
      // not the result line
    }
  }
  return null;
}

function runChild(spec) {
  const env = { ...process.env };
  if (spec.threads) env.MAT_NATIVE_THREADS = String(spec.threads);
  const res = spawnSync(
    process.execPath,
    [path.join(__dirname, 'bench.js'), '--worker', JSON.stringify(spec)],
    {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    },
  );
  const parsed = lastJsonLine(res.stdout || '');
  if (res.status !== 0 || !parsed) {
    const why = (res.stderr || res.error?.message || 'no output').trim().split('\n').slice(-3).join(' | ');
    return { backend: spec.backend, workload: spec.workload, threads: spec.threads, error: why };
  }
  return parsed;
}

function torchAvailable() {
  const res = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return res.status === 0 ? '' : `${PYTHON} cannot import torch`;
}

/**
 * Runs the reference script unchanged, except that its two time.perf_counter() calls (around the timed steps)
 * also record process CPU time, so PyTorch gets the same cpu_step_s as the tfjs workers.
 */
const TORCH_WRAPPER = `
import json, runpy, sys, time
script, threads = sys.argv[1], sys.argv[2]
marks, wall = [], time.perf_counter
def perf_counter():
    marks.append(time.process_time())
    return wall()
time.perf_counter = perf_counter
sys.argv = [script, threads]
runpy.run_path(script, run_name="__main__")
print(json.dumps({"cpu_s": marks[-1] - marks[0]}))
`;

function runTorch(threads) {
  const res = spawnSync(PYTHON, ['-c', TORCH_WRAPPER, TORCH_SCRIPT, String(threads)], { encoding: 'utf8' });
  const lines = (res.stdout || '').trim().split('\n');
  const parsed = lastJsonLine(lines.slice(0, -1).join('\n'));
  const cpu = lastJsonLine(lines[lines.length - 1] || '');
  if (res.status !== 0 || !parsed || !cpu) {
    return {
      backend: 'pytorch',
      workload: 'fmnist-cnn',
      threads,
      error: (res.stderr || '').trim().slice(-300),
    };
  }
  const steps = 8; // the script's default number of timed steps
  return { backend: 'pytorch', workload: 'fmnist-cnn', ...parsed, cpu_step_s: round(cpu.cpu_s / steps, 4) };
}

/** PyTorch on a zoo model other than fmnist-cnn (torch_model_at_bench.py measures its own CPU time). */
function runTorchModel(workload, threads, steps, batch) {
  const args = [TORCH_MODEL_SCRIPT, workload, String(threads), String(steps), '1', String(batch)];
  const res = spawnSync(PYTHON, args, { encoding: 'utf8' });
  const parsed = lastJsonLine(res.stdout || '');
  if (res.status !== 0 || !parsed)
    return { backend: 'pytorch', workload, threads, error: (res.stderr || '').trim().slice(-300) };
  return { backend: 'pytorch', ...parsed };
}

/** Each engine's images/s on `workload` relative to PyTorch's with 1 and 2 threads, and per CPU-second. */
function ratiosVsTorch(rows, workload, torchByThreads) {
  const t1 = torchByThreads[1];
  const t2 = torchByThreads[2];
  return Object.fromEntries(
    rows
      .filter((r) => r.workload === workload && r.img_per_s && r.backend !== 'pytorch')
      .map((r) => [
        label(r),
        {
          vs_torch_1_thread: t1?.img_per_s ? round(r.img_per_s / t1.img_per_s, 3) : null,
          vs_torch_2_threads: t2?.img_per_s ? round(r.img_per_s / t2.img_per_s, 3) : null,
          // Throughput per CPU-second, immune to time spent waiting for a core on a shared machine.
          cpu_time_vs_torch_1_thread:
            t1?.cpu_step_s && r.cpu_step_s ? round(t1.cpu_step_s / r.cpu_step_s, 3) : null,
        },
      ]),
  );
}

function machineInfo() {
  const cpus = os.cpus();
  let native = null;
  try {
    native = require('@mat/native').nativeInfo();
  } catch (e) {
    native = { available: false, reason: e.message };
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg_start: os.loadavg().map((v) => round(v, 2)),
    native,
  };
}

function label(r) {
  const threads = r.threads ? ` x${r.threads}` : '';
  return `${r.backend ?? r.engine}${threads}`;
}

function printTable(rows, torch) {
  const header = ['workload', 'engine', 'img/s', 'step s', 'cpu s/step', 'vs torch 1t', 'vs torch 2t'];
  const lines = rows.map((r) => {
    const t1 = torch[r.workload]?.[1]?.img_per_s;
    const t2 = torch[r.workload]?.[2]?.img_per_s;
    const ratio = (t) =>
      r.img_per_s && t && r.backend !== 'pytorch' ? `${(r.img_per_s / t).toFixed(2)}x` : '';
    return [
      r.workload ?? '',
      label(r),
      r.error ? 'error' : String(r.img_per_s),
      r.error ? r.error.slice(0, 60) : String(r.step_s),
      r.error ? '' : String(r.cpu_step_s ?? ''),
      ratio(t1),
      ratio(t2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const machine = machineInfo();
  console.log(
    `bench: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadavg_start}`,
  );
  const torchReason = opts.torch ? torchAvailable() : 'disabled (--no-torch)';
  if (torchReason) console.log(`bench: PyTorch reference skipped: ${torchReason}`);
  // fmnist-cnn's reference script lives in the shared folder beside the repository (the zoo models' in it).
  const fmnistTorchReason =
    torchReason || (fs.existsSync(TORCH_SCRIPT) ? '' : `reference script not found at ${TORCH_SCRIPT}`);
  if (!torchReason && fmnistTorchReason && opts.models.includes('fmnist-cnn'))
    console.log(`bench: fmnist-cnn PyTorch reference skipped: ${fmnistTorchReason}`);
  const rows = [];
  const torch = Object.fromEntries(opts.models.map((m) => [m, {}])); // workload -> threads -> PyTorch result
  const log = (r) => {
    rows.push(r);
    console.log(
      `  ${r.workload} ${label(r)}: ${r.error ? `error: ${r.error}` : `${r.img_per_s} img/s (${r.step_s} s/step)`}`,
    );
  };
  const fm = (backend, extra) => ({
    workload: 'fmnist-cnn',
    backend,
    warmup: 2,
    steps: opts.steps,
    profile: opts.profile,
    unfused: opts.unfused,
    conv: opts.conv,
    ...extra,
  });

  if (opts.models.includes('fmnist-cnn')) {
    // fmnist-cnn: each native thread count right after PyTorch with the same thread count.
    for (const threads of opts.backends.includes('native') ? opts.threads : []) {
      if (!fmnistTorchReason && threads <= 2) log((torch['fmnist-cnn'][threads] = runTorch(threads)));
      log(runChild(fm('native', { threads })));
    }
    if (!fmnistTorchReason && !opts.backends.includes('native')) log((torch['fmnist-cnn'][1] = runTorch(1)));
    if (opts.backends.includes('wasm')) log(runChild(fm('wasm')));
    if (opts.backends.includes('cpu')) log(runChild(fm('cpu', { warmup: 0, steps: opts.cpuSteps })));
    // libtensorflow (a GPU with tfjs-node-gpu; scripts/gpu-check.sh): the first steps pay for cuDNN's
    // algorithm search and, on GPUs newer than its kernels, the PTX JIT; they are warm-up, not timed.
    if (opts.backends.includes('tensorflow')) log(runChild(fm('tensorflow', { warmup: 3 })));
  }

  // The zoo models (PreActResNet-18 by default; ResNet-18 and WRN-34-10 on request), each beside PyTorch.
  for (const workload of opts.models.filter((m) => m !== 'fmnist-cnn')) {
    const { batch } = WORKLOADS[workload];
    const rn = (backend, extra) => ({
      workload,
      batch,
      backend,
      warmup: 0, // a step takes tens of seconds: JIT and buffer-pool warm-up are a small part of it
      steps: opts.resnetSteps,
      profile: opts.profile,
      unfused: opts.unfused,
      conv: opts.conv,
      ...extra,
    });
    const torchRn = (threads) =>
      log((torch[workload][threads] = runTorchModel(workload, threads, opts.resnetSteps, batch)));
    for (const threads of opts.backends.includes('native') ? opts.threads : []) {
      if (!torchReason && threads <= 2) torchRn(threads);
      log(runChild(rn('native', { threads })));
    }
    if (!torchReason && !opts.backends.includes('native')) torchRn(1);
    if (opts.backends.includes('wasm')) log(runChild(rn('wasm')));
    if (opts.backends.includes('tensorflow')) log(runChild(rn('tensorflow', { warmup: 2, steps: 5 })));
    // cpu is skipped: at ~1 img/s on fmnist-cnn, one ResNet-18 AT step would take about an hour.
  }

  machine.loadavg_end = os.loadavg().map((v) => round(v, 2));
  console.log('');
  printTable(rows, torch);
  const result = {
    date: new Date().toISOString(),
    command: `node scripts/bench.js ${process.argv.slice(2).join(' ')}`.trim(),
    workload: {
      ...Object.fromEntries(opts.models.map((m) => [m, WORKLOADS[m]])),
      attack: { ...ATTACK, randomStart: true },
      sgd: SGD,
    },
    machine,
    results: rows,
    ratios_vs_torch: Object.fromEntries(
      Object.keys(torch).map((workload) => [workload, ratiosVsTorch(rows, workload, torch[workload])]),
    ),
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nbench: wrote ${path.relative(process.cwd(), opts.out)}`);
}

if (process.argv[2] === '--worker') {
  runWorker(JSON.parse(process.argv[3]))
    .then((r) => console.log(JSON.stringify(r)))
    .catch((e) => {
      console.error(e.stack || String(e));
      process.exit(1);
    });
} else {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
