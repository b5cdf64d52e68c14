#!/usr/bin/env bash
# Makes a private CA and a TLS certificate for a Redis server that other hosts reach:
#
#   bash scripts/redis-tls-certs.sh DIR NAME_OR_IP [NAME_OR_IP ...]
#
# writes DIR/ca.pem (give this to every host: --redis-ca / MAT_REDIS_CA), DIR/ca.key (keep it off the
# network; it signs certificates), DIR/redis.pem and DIR/redis.key (the server's, for redis-server
# --tls-cert-file / --tls-key-file). Each NAME_OR_IP becomes a subjectAltName: clients check that the
# address they connect to is one of them. Keys are 600. Nothing is overwritten: delete DIR to start over.
# Test: test/multihost/multihost.test.ts.
set -euo pipefail
dir="${1:?usage: redis-tls-certs.sh DIR NAME_OR_IP [NAME_OR_IP ...]}"
shift
[ $# -gt 0 ] || { echo "redis-tls-certs: name at least one DNS name or IP address of the Redis host" >&2; exit 2; }
for f in ca.pem ca.key redis.pem redis.key; do
  if [ -e "$dir/$f" ]; then
    echo "redis-tls-certs: $dir/$f exists; delete $dir to make new certificates" >&2
    exit 1
  fi
done
mkdir -p "$dir"
san=""
for name in "$@"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
done
days="${MAT_CERT_DAYS:-825}"
(
  umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=MAT Redis CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$dir/redis.key" -out "$dir/redis.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$dir/redis.ext"
  openssl x509 -req -in "$dir/redis.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -extfile "$dir/redis.ext" -out "$dir/redis.pem" 2>/dev/null
)
rm -f "$dir/redis.csr" "$dir/redis.ext" "$dir/ca.srl"
chmod 644 "$dir/ca.pem" "$dir/redis.pem"
echo "redis-tls-certs: $dir/ca.pem (for every host), $dir/redis.pem + redis.key (Redis), $dir/ca.key (keep safe); names: $san"
