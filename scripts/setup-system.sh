#!/usr/bin/env bash
# Installs the system (Debian) packages that the README's commands need, and nothing that is already there.
# Idempotent: run it as often as you like; it says what it installs and why.
#
#   bash scripts/setup-system.sh start    # `npm start`: the Fashion-MNIST files (Debian dataset-fashion-mnist)
#   bash scripts/setup-system.sh test     # `npm test`: the above, a C++ toolchain, Chromium (dashboard browser
#                                         #   test), Docker (docker.io, docker-compose, debootstrap: the Compose
#                                         #   test), iproute2, iptables and openssl (the multi-host test),
#                                         #   and a Redis server answering on 127.0.0.1:6379
#   bash scripts/setup-system.sh docker   # the Docker engine, Compose v1 and debootstrap only
#
# `npm start` and `npm test` run it first (package.json prestart / pretest); .ci/run runs `test`.
# As root it runs apt-get; otherwise it prints the exact `sudo apt-get install ...` command and fails.
# MAT_SKIP_SYSTEM_SETUP=1 skips it (you manage the packages yourself, e.g. data through --data-dir).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

if [ "${MAT_SKIP_SYSTEM_SETUP:-}" = 1 ]; then
  echo "setup-system: skipped (MAT_SKIP_SYSTEM_SETUP=1)"
  exit 0
fi
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(test)

packages=()
reasons=()
want() { # want PACKAGE REASON: queue a package unless it is queued already
  local p
  for p in "${packages[@]}"; do [ "$p" = "$1" ] && return 0; done
  packages+=("$1")
  reasons+=("$1 ($2)")
}

have_fashion_mnist() {
  local dir f
  for dir in /usr/share/datasets/fashion-mnist "$root/data/fashion-mnist"; do
    for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
      [ -f "$dir/$f" ] || continue 2
    done
    return 0
  done
  return 1
}

need_start() {
  have_fashion_mnist || want dataset-fashion-mnist 'Fashion-MNIST for npm start and the tests'
}
need_build() {
  command -v g++ >/dev/null 2>&1 || want g++ 'builds the native kernels'
  command -v make >/dev/null 2>&1 || want make 'builds the native kernels'
  command -v python3 >/dev/null 2>&1 || want python3 'node-gyp'
}
need_docker() {
  # Any engine will do (docker.io, docker-ce); Debian's is installed when there is none.
  command -v dockerd >/dev/null 2>&1 || want docker.io 'Docker engine for the Compose test'
  command -v docker-compose >/dev/null 2>&1 || want docker-compose 'Compose v1, the tested docker-compose'
  command -v debootstrap >/dev/null 2>&1 || want debootstrap 'builds the local base images of the Compose test'
}
need_multihost() {
  # test/multihost: hosts as network namespaces (iproute2), Redis's firewall (iptables), its certificates.
  [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || command -v ip >/dev/null 2>&1 || want iproute2 'the multi-host test'
  [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || want iptables 'the multi-host test (Redis firewall)'
  command -v openssl >/dev/null 2>&1 || want openssl 'the multi-host test (Redis TLS certificates)'
}
need_test() {
  need_start
  need_build
  [ -x /usr/bin/chromium ] || want chromium 'the dashboard browser test'
  /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 ||
    want python3-torch 'PyTorch, the independent reference of the export and numerics tests'
  need_docker
  need_multihost
}

for part in "${parts[@]}"; do
  case "$part" in
    start) need_start ;;
    test) need_test ;;
    docker) need_docker ;;
    *) echo "setup-system: unknown part '$part' (start, test or docker)" >&2; exit 2 ;;
  esac
done

if [ ${#packages[@]} -gt 0 ]; then
  echo "setup-system: needed: ${reasons[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: no apt-get here: install the equivalents of ${packages[*]} yourself," >&2
    echo "  then run again (or MAT_SKIP_SYSTEM_SETUP=1 to skip this check)" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: installing needs root. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
    echo "then the command again (or MAT_SKIP_SYSTEM_SETUP=1 to skip this check)." >&2
    case " ${packages[*]} " in *" dataset-fashion-mnist "*)
      echo "  Without the dataset package: mat downloads Fashion-MNIST into data/, or use --data-dir DIR" >&2
      echo "  (files in DIR/fashion-mnist/) or mat data fetch fashion-mnist --mirror URL." >&2 ;;
    esac
    exit 1
  fi
  echo "setup-system: apt-get install ${packages[*]}"
  # Another apt-get (unattended upgrades, a second terminal) may hold the dpkg lock: wait for it, up to
  # 20 minutes, instead of failing at once.
  apt_lock=(-o DPkg::Lock::Timeout=1200)
  apt-get "${apt_lock[@]}" update -qq
  if ! DEBIAN_FRONTEND=noninteractive apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
    echo "setup-system: apt-get install ${packages[*]} failed (see above)." >&2
    case " ${packages[*]} " in *" dataset-fashion-mnist "*)
      echo "  For the data: put the Fashion-MNIST files in data/fashion-mnist/ (or --data-dir DIR), or" >&2
      echo "  mat data fetch fashion-mnist --mirror URL (a directory or a copy of the files)." >&2 ;;
    esac
    exit 1
  fi
  echo "setup-system: installed ${packages[*]}"
fi

for part in "${parts[@]}"; do
  [ "$part" = test ] && bash "$here/ensure-redis.sh"
done
exit 0
