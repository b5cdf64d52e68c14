#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:${REDIS_PORT:-6379}; starts one (no persistence) if not.
# Used by .ci/run and by the scripts that start the distributed topology without Docker.
set -euo pipefail
port="${REDIS_PORT:-6379}"

ping_redis() {
  # Plain bash TCP so that this works before any client is installed.
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 2 reply <&3 || true
  exec 3>&-
  [[ "$reply" == +PONG* ]]
}

if ping_redis; then
  echo "redis: answering on 127.0.0.1:$port"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: redis-server not found; installing the Debian package redis-server"
  if [ "$(id -u)" -ne 0 ]; then
    echo "redis: need root to apt-get install redis-server (or start Redis on port $port yourself)" >&2
    exit 1
  fi
  apt-get -o DPkg::Lock::Timeout=1200 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1200 install -y -qq redis-server >/dev/null
fi

dir="${TMPDIR:-/tmp}/mat-redis-$port"
mkdir -p "$dir"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir "$dir" --logfile "$dir/redis.log"
for _ in $(seq 1 50); do
  if ping_redis; then
    echo "redis: started on 127.0.0.1:$port (log $dir/redis.log)"
    exit 0
  fi
  sleep 0.1
done
echo "redis: failed to start on port $port; see $dir/redis.log" >&2
exit 1
