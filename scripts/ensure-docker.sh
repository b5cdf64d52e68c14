#!/usr/bin/env bash
# Makes sure a Docker engine answers (`docker info`); starts Debian's dockerd in the background if not.
# Installs the engine first when it is missing (scripts/setup-system.sh docker: docker.io, docker-compose).
# Used by the Docker Compose end-to-end test (test/docker/) and so by `npm test` and .ci/run.
#
#   bash scripts/ensure-docker.sh          # prints where the engine is and its storage driver
#
# The engine's log goes to $MAT_DOCKERD_LOG (default /var/log/mat-dockerd.log). Storage driver: overlay2.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="${MAT_DOCKERD_LOG:-/var/log/mat-dockerd.log}"

engine_answers() { docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null; }

if info="$(engine_answers)"; then
  echo "docker: engine $info answering"
  exit 0
fi

bash "$here/setup-system.sh" docker

if [ "$(id -u)" -ne 0 ]; then
  echo "docker: no engine answers and starting one needs root: sudo dockerd (or: sudo systemctl start docker)" >&2
  exit 1
fi
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker: dockerd is running but does not answer yet; waiting"
else
  # dockerd sets the FORWARD policy to DROP when it has to turn IPv4 forwarding on itself; turning it on
  # first keeps the other test networks of this machine (network namespaces, bridges) working.
  if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)" != 1 ]; then
    sysctl -q -w net.ipv4.ip_forward=1 || true
  fi
  echo "docker: starting dockerd (storage driver overlay2, log $log)"
  # setsid: the engine outlives this script and the test that started it.
  setsid dockerd --storage-driver overlay2 >>"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 120); do
  if info="$(engine_answers)"; then
    echo "docker: engine $info answering"
    exit 0
  fi
  sleep 0.5
done
echo "docker: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
