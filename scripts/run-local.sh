#!/usr/bin/env bash
# The distributed topology of docker-compose.yml on one machine, without Docker: Redis (started if none
# answers), one coordinator and N workers (one per core or GPU; more workers than peers are hot spares).
#
#   scripts/run-local.sh --workers 2 -- --preset quick --checkpoint-every 50
#   scripts/run-local.sh --workers 3 --gpus 0,1 -- --config my-run.json     # workers 0,1 on GPUs 0,1; 1 spare
#   scripts/run-local.sh --workers 4 --gpus auto -- --config my-run.json    # each worker leases a free GPU
#   MAT_REDIS_URL=redis://127.0.0.1:6390 scripts/run-local.sh -- --preset quick
#
# The workers join the run the coordinator announces (`coordinating run <id>` in its log), so other runs in
# the same Redis do not confuse them.
# Everything after `--` goes to `mat coordinator` (the flags of `mat train`). WORKER_ARGS adds flags to every
# worker (e.g. WORKER_ARGS="--lease-ms 5000"), COMMON_ARGS to both (e.g. "--queue-prefix myprefix"). Logs go
# to $MAT_LOG_DIR (default ./logs). Ctrl-C / SIGTERM stops the coordinator and the workers gracefully (each
# worker finishes its step and checkpoints); the run can be resumed by starting the script again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
mat=(node "$root/packages/cli/dist/bin.js")

workers=2
gpus=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --gpus) gpus="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run-local: unknown option $1 (coordinator flags go after --)" >&2; exit 2 ;;
  esac
done
if ! [[ "$workers" =~ ^[0-9]+$ ]] || [ "$workers" -lt 1 ]; then
  echo "run-local: --workers must be a positive integer" >&2; exit 2
fi
[ -f "$root/packages/cli/dist/bin.js" ] || (cd "$root" && npx tsc -b)

url="${MAT_REDIS_URL:-redis://127.0.0.1:6379}"
if [[ "$url" =~ ^redis://(127\.0\.0\.1|localhost)(:([0-9]+))?(/.*)?$ ]]; then
  REDIS_PORT="${BASH_REMATCH[3]:-6379}" "$here/ensure-redis.sh"
fi
export MAT_REDIS_URL="$url"
# Secrets reach the coordinator and the workers by environment only, never as arguments (`ps` shows those):
# MAT_REDIS_PASSWORD as given, and MAT_EXCHANGE_SECRET (the key of the data-plane messages' MAC), made here
# for this run unless given.
if [ -z "${MAT_EXCHANGE_SECRET:-}" ]; then
  MAT_EXCHANGE_SECRET="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
fi
export MAT_EXCHANGE_SECRET

logs="${MAT_LOG_DIR:-$PWD/logs}"
mkdir -p "$logs"
read -r -a common <<<"${COMMON_ARGS:-}"
read -r -a extra <<<"${WORKER_ARGS:-}"
IFS=',' read -r -a gpu_list <<<"$gpus"

stop() {
  echo "run-local: stopping (workers checkpoint first)"
  for pid in "${pids[@]}" $coordinator; do kill -TERM "$pid" 2>/dev/null || true; done
}

pids=()
coordinator=""
trap stop INT TERM
"${mat[@]}" coordinator "${common[@]}" "$@" >"$logs/coordinator.log" 2>&1 &
coordinator=$!
echo "coordinator: pid $coordinator, log $logs/coordinator.log"

run_id=""
for _ in $(seq 1 600); do
  run_id="$(sed -n 's/.*\[coordinator\] coordinating run \(.*\)$/\1/p' "$logs/coordinator.log" | head -n 1)"
  [ -n "$run_id" ] && break
  if ! kill -0 "$coordinator" 2>/dev/null; then
    echo "run-local: the coordinator stopped:" >&2
    tail -n 5 "$logs/coordinator.log" >&2
    exit 1
  fi
  sleep 0.2
done
if [ -z "$run_id" ]; then echo "run-local: the coordinator announced no run within 2 minutes" >&2; exit 1; fi
echo "run: $run_id"

for ((i = 0; i < workers; i++)); do
  gpu=()
  if [ "$gpus" = auto ]; then gpu=(--gpu auto)
  elif [ -n "${gpu_list[$i]:-}" ]; then gpu=(--gpu "${gpu_list[$i]}"); fi
  "${mat[@]}" worker --run "$run_id" "${common[@]}" "${extra[@]}" "${gpu[@]}" >"$logs/worker-$i.log" 2>&1 &
  pids+=($!)
  echo "worker $i: pid $!, log $logs/worker-$i.log"
done

status=0
wait "$coordinator" || status=$?
# The run is over (or the coordinator detached): wait for the workers, which leave by themselves.
for pid in "${pids[@]}"; do wait "$pid" || true; done
tail -n 3 "$logs/coordinator.log"
exit "$status"
