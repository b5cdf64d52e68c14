#!/usr/bin/env bash
# The GPU path, end to end, for a person with an NVIDIA GPU (none was available where MAT was written:
# docs/gpu.md). Run from the project root after `npm ci && npx tsc -b` with @tensorflow/tfjs-node-gpu
# installed (it is an optional dependency), or inside the GPU image:
#
#   bash scripts/gpu-check.sh [--out bench-results/gpu.json]
#   docker run --rm --gpus all -v "$PWD/bench-results:/app/bench-results" mat:gpu bash scripts/gpu-check.sh
#
#   1. mat doctor --json: nvidia-smi lists a GPU, and the tensorflow backend loads from
#      @tensorflow/tfjs-node-gpu (not the CPU build); per GPU its compute capability, native kernels or
#      PTX JIT, and the CUDA JIT cache.
#   2. A 20-step run (quick preset, --backend tensorflow, CUDA_VISIBLE_DEVICES as given, else GPU 0),
#      timed: wall time of the process (a first start on a GPU newer than libtensorflow's kernels includes
#      the PTX JIT; run the script twice to see the cache at work) and its mean step time after step 1.
#   3. The engine bench on the tensorflow backend (scripts/bench.js --backends tensorflow --no-torch).
#   4. Writes everything to one JSON file (default bench-results/gpu.json).
#
# Each step fails with a message saying what is wrong and what to do; on failure nothing is written.
# The test runs it on this project's machine, which has no GPU, and checks it fails at step 1 or 2
# (test/cli/gpu-check.e2e.test.ts).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/bench-results/gpu.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (--out FILE)" >&2; exit 2 ;;
  esac
done
mat=(node "$root/packages/cli/dist/bin.js")
[ -f "$root/packages/cli/dist/bin.js" ] || { echo "gpu-check: build first: npx tsc -b" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/mat-gpu-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "gpu-check: $*" >&2; echo "gpu-check: FAILED, nothing written to $out" >&2; exit 1; }

# 1. doctor
echo "gpu-check: 1/4 mat doctor"
"${mat[@]}" doctor --json > "$work/doctor.json" 2> "$work/doctor.err" || fail "mat doctor failed: $(tail -3 "$work/doctor.err")"
verdict="$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const g = r.gpu;
  if (!g.nvidiaSmi.ok) { console.log(`no GPU: ${g.nvidiaSmi.error} (needs an NVIDIA GPU, its driver and nvidia-smi; in Docker: --gpus all and the NVIDIA Container Toolkit)`); process.exit(); }
  if (g.gpus.length === 0) { console.log("no GPU: nvidia-smi lists none"); process.exit(); }
  const tf = r.backends.find((b) => b.name === "tensorflow");
  if (!tf || !tf.available) { console.log(`the tensorflow backend does not load: ${tf ? tf.reason : "not listed"} (npm install @tensorflow/tfjs-node-gpu@4.22.0; it needs CUDA 11.x + cuDNN 8.x: docs/gpu.md)`); process.exit(); }
  if (!tf.details || tf.details.package !== "@tensorflow/tfjs-node-gpu") { console.log(`the tensorflow backend is ${tf.details && tf.details.package} (the CPU build), not @tensorflow/tfjs-node-gpu`); process.exit(); }
  for (const x of g.gpus) console.error(`gpu-check:   GPU ${x.index}: ${x.name}, compute capability ${x.computeCapability ?? "unknown"}: ${x.kernels.kind}`);
  console.log("ok");
' "$work/doctor.json")"
[ "$verdict" = ok ] || fail "$verdict"

# 2. a 20-step run on the GPU
echo "gpu-check: 2/4 a 20-step run (quick preset, backend tensorflow)"
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
start=$(date +%s.%N)
if ! "${mat[@]}" train --preset quick --backend tensorflow --max-steps 20 --test-subset 500 \
  --name gpu-check --out-dir "$work/runs" > "$work/train.log" 2>&1; then
  fail "the 20-step run failed: $(tail -5 "$work/train.log")"
fi
end=$(date +%s.%N)
grep -q 'backend: tensorflow' "$work/train.log" || fail "the run did not use the tensorflow backend: $(grep -m1 'backend:' "$work/train.log")"

# 3. the bench
echo "gpu-check: 3/4 bench (tensorflow backend)"
node "$root/scripts/bench.js" --backends tensorflow --no-torch --out "$work/bench.json" > "$work/bench.log" 2>&1 \
  || fail "the bench failed: $(tail -5 "$work/bench.log")"

# 4. one JSON
echo "gpu-check: 4/4 writing $out"
node -e '
  const fs = require("fs");
  const [work, out, start, end] = process.argv.slice(1);
  const read = (f) => JSON.parse(fs.readFileSync(`${work}/${f}`, "utf8"));
  const doctor = read("doctor.json");
  const summary = read("runs/gpu-check/summary.json");
  const steps = fs.readFileSync(`${work}/runs/gpu-check/metrics.jsonl`, "utf8").trim().split("\n")
    .map((l) => JSON.parse(l)).filter((l) => l.type === "step");
  const later = steps.filter((l) => l.step > 1).map((l) => l.seconds).filter((s) => typeof s === "number");
  const bench = read("bench.json");
  const errors = bench.results.filter((r) => r.error);
  if (errors.length > 0) { console.error(`bench errors: ${JSON.stringify(errors)}`); process.exit(1); }
  const result = {
    date: new Date().toISOString(),
    command: "bash scripts/gpu-check.sh",
    cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES,
    gpu: doctor.gpu,
    tensorflow: doctor.backends.find((b) => b.name === "tensorflow"),
    run: {
      preset: "quick", steps: summary.stepsDone, wallSeconds: Number((end - start).toFixed(2)),
      meanStepSecondsAfterFirst: later.length ? Number((later.reduce((a, b) => a + b, 0) / later.length).toFixed(4)) : null,
      firstStepSeconds: steps[0] ? steps[0].seconds : null,
      final: summary.final,
    },
    bench: { machine: bench.machine, results: bench.results },
  };
  fs.mkdirSync(require("path").dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
' "$work" "$out" "$start" "$end" || fail "could not assemble the results"
echo "gpu-check: wrote $out"
