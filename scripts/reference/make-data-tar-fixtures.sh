#!/bin/sh
# Writes the tar fixtures of test/core/data/tar-fixtures.test.ts with GNU tar (an implementation
# independent of MAT's tar reader), so the reader is checked against archives it did not produce.
#   cifar10-gnu.tar.gz   : CIFAR-10 binary layout, 2 records per batch file, GNU format, plus a member
#                          with a 120-character name (stored with a GNU 'L' long-name header).
#   pax-longname.tar.gz  : POSIX pax format with the same long-named member (stored with an 'x' header).
# Record r of file f (f = 0..4 for data_batch_1..5, 5 for test_batch): label (3f + r) mod 10, and pixel p
# (0..1023) of colour plane c (0..2) is (p + 7c + 31r + 50f) mod 256.
set -eu
out="$(cd "$(dirname "$0")/../.." && pwd)/test/fixtures/data"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cifar-10-batches-bin"
node -e '
const fs = require("fs");
const names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"];
names.forEach((name, f) => {
  const recs = [];
  for (let r = 0; r < 2; r++) {
    const rec = Buffer.alloc(3073);
    rec[0] = (3 * f + r) % 10;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) rec[1 + c * 1024 + p] = (p + 7 * c + 31 * r + 50 * f) % 256;
    recs.push(rec);
  }
  fs.writeFileSync(process.argv[1] + "/cifar-10-batches-bin/" + name + ".bin", Buffer.concat(recs));
});
fs.writeFileSync(process.argv[1] + "/cifar-10-batches-bin/" + "n".repeat(120) + ".txt", "long name\n");
' "$work"
(cd "$work" && tar --format=gnu --sort=name --mtime=2020-01-01 --owner=0 --group=0 -cf - cifar-10-batches-bin | gzip -n -9 > "$out/cifar10-gnu.tar.gz")
(cd "$work" && tar --format=posix --sort=name --mtime=2020-01-01 --owner=0 --group=0 --pax-option=delete=atime,delete=ctime \
  -cf - "cifar-10-batches-bin/$(printf 'n%.0s' $(seq 120)).txt" | gzip -n -9 > "$out/pax-longname.tar.gz")
ls -l "$out"
