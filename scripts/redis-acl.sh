#!/usr/bin/env bash
# Writes a Redis ACL file (redis-server --aclfile) with one user per MAT role, for Redis shared by hosts:
#
#   bash scripts/redis-acl.sh SECRETS_DIR [QUEUE_PREFIX] > users.acl
#
# SECRETS_DIR holds one password per role (coordinator.password, worker.password, dashboard.password); a
# missing one is generated (openssl rand, mode 600). The ACL file holds only their SHA-256 hashes (#…), so
# it can be read by Redis without holding the passwords. QUEUE_PREFIX is the --queue-prefix (default bull).
#
# Roles (key names: packages/exchange/src/redis-keys.ts):
#   default          off: a connection without a user name can do nothing
#   mat-coordinator  every run key (mat:*) and queue key (<prefix>:*), no admin or dangerous commands
#                    (FLUSHALL, CONFIG, KEYS, DEBUG, ACL, …) but INFO, which BullMQ and ioredis' ready check run
#   mat-worker       the same commands; reads a run's config and the run index but cannot change them
#   mat-dashboard    read-only: only read commands (inside scripts too: Redis checks each call of a script
#                    against the user running it); bull-board's read scripts need EVALSHA, which Redis
#                    counts as a write access to the queue keys it names, so those are full key patterns,
#                    while the commands themselves stay read-only
# Test: test/multihost/multihost.test.ts (every role trains, the dashboard user cannot write).
set -euo pipefail
secrets="${1:?usage: redis-acl.sh SECRETS_DIR [QUEUE_PREFIX] > users.acl}"
prefix="${2:-bull}"
if ! [[ "$prefix" =~ ^[A-Za-z0-9_.-]+$ ]]; then
  echo "redis-acl: the queue prefix must be letters, digits, '_', '.' or '-' (got '$prefix')" >&2
  exit 2
fi
mkdir -p "$secrets"
chmod 700 "$secrets"

hash_of() { # hash_of ROLE: the SHA-256 of the role's password (created when missing)
  local file="$secrets/$1.password"
  if [ ! -s "$file" ]; then
    (umask 077 && openssl rand -hex 24 | tr -d '\n' > "$file")
  fi
  printf '%s' "$(cat "$file")" | openssl dgst -sha256 -r | cut -d' ' -f1
}

commands='+@all -@dangerous +info'
run='mat:{*}'
echo "user default off resetkeys resetchannels -@all"
echo "user mat-coordinator on #$(hash_of coordinator) resetkeys resetchannels ~mat:* ~$prefix:* $commands"
echo "user mat-worker on #$(hash_of worker) resetkeys resetchannels" \
  "~$run:state ~$run:slots ~$run:workers ~$run:metrics ~$run:data:* ~$run:ckpt:* ~mat:gpus:*" \
  "%R~$run:config %R~mat:runs ~$prefix:* $commands"
echo "user mat-dashboard on #$(hash_of dashboard) resetkeys resetchannels %R~mat:* ~$prefix:*" \
  "-@all +@read +@connection +evalsha +eval -@dangerous +info"
