#!/usr/bin/env bash
# Builds local stand-ins for the public base images that docker/Dockerfile.cpu and docker-compose.yml use,
# for machines that cannot pull from Docker Hub, under the same tags:
#
#   node:20-bookworm-slim   a debootstrap'd Debian bookworm (minbase) + this machine's Node and npm
#   redis:7.2-bookworm      the same Debian root + Debian's redis-server, with the official entrypoint's
#                           behaviour (runs redis as the redis user)
#
# Both trust this machine's CA bundle (/etc/ssl/certs/ca-certificates.crt), so that builds inside
# containers reach the npm registry and the Debian mirror through a TLS-intercepting proxy.
# Recipes: docker/stand-ins/. Idempotent and cached: an image is rebuilt only when its recipe, the Node
# binary or the CA bundle changed (label org.mat.stand-in); a tag that holds a real (pulled) image is left
# alone. Needs root (debootstrap) and a running engine (scripts/ensure-docker.sh).
#
#   bash scripts/docker-stand-ins.sh                 # MAT_DEBIAN_MIRROR overrides the Debian mirror
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipes="$(dirname "$here")/docker/stand-ins"
mirror="${MAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base=mat-stand-in/debian:bookworm
ca=/etc/ssl/certs/ca-certificates.crt

label_of() { docker image inspect --format '{{index .Config.Labels "org.mat.stand-in"}}' "$1" 2>/dev/null; }

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || bash "$here/setup-system.sh" docker
  rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/mat-bookworm.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "stand-ins: debootstrap bookworm (minbase) from $mirror"
  started=$(date +%s)
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 20 "$rootfs.log" >&2
    echo "stand-ins: debootstrap failed (log $rootfs.log)" >&2
    exit 1
  }
  # As the official Debian images: the release, its updates and security, one sources file.
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -f "$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  trap - EXIT
  echo "stand-ins: $base imported ($(($(date +%s) - started)) s)"
fi

# build TAG RECIPE-NAME KEY [files to put in the context as NAME=SOURCE ...]
build() {
  local tag="$1" recipe="$2" key="$3"
  shift 3
  local have
  have="$(label_of "$tag" || true)"
  if docker image inspect "$tag" >/dev/null 2>&1 && [ -z "$have" ]; then
    echo "stand-ins: $tag is a real image here: kept"
    return 0
  fi
  if [ "$have" = "$key" ]; then
    echo "stand-ins: $tag up to date"
    return 0
  fi
  local ctx
  ctx="$(mktemp -d "${TMPDIR:-/var/tmp}/mat-stand-in.XXXXXX")"
  local pair
  for pair in "$@"; do cp -a "${pair#*=}" "$ctx/${pair%%=*}"; done
  cp "$recipes/$recipe"-entrypoint.sh "$ctx/$recipe-entrypoint.sh"
  echo "stand-ins: building $tag"
  local started=$(date +%s)
  if ! docker build -q -f "$recipes/$recipe.Dockerfile" --label "org.mat.stand-in=$key" \
    --build-arg "NODE_VERSION=$(node --version | sed 's/^v//')" -t "$tag" "$ctx" >/dev/null; then
    rm -rf "$ctx"
    echo "stand-ins: building $tag failed" >&2
    exit 1
  fi
  rm -rf "$ctx"
  echo "stand-ins: $tag built ($(($(date +%s) - started)) s)"
}

node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
include_dir="$(dirname "$(dirname "$node_bin")")/include/node"
[ -f "$include_dir/node.h" ] || { echo "stand-ins: Node's headers not found in $include_dir" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -c1-16; }
node_key="$(digest "$recipes/node.Dockerfile" "$recipes/node-entrypoint.sh" "$node_bin" "$npm_dir/package.json" "$ca")"
redis_key="$(digest "$recipes/redis.Dockerfile" "$recipes/redis-entrypoint.sh" "$ca")"
build node:20-bookworm-slim node "$node_key" node="$node_bin" npm="$npm_dir" include="$include_dir" ca-bundle.crt="$ca"
build redis:7.2-bookworm redis "$redis_key" ca-bundle.crt="$ca"
