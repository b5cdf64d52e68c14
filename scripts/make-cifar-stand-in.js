#!/usr/bin/env node
/**
 * Writes a CIFAR stand-in: an archive in the real binary format (same file name, members, record layout
 * and counts as the download) holding synthetic, learnable images, so the CIFAR path of MAT (loader,
 * 32x32x3 models, the paper specs) can be run end to end on a machine that cannot download CIFAR.
 *
 *   node scripts/make-cifar-stand-in.js --data-dir /tmp/cifar-stand-in [--dataset cifar10|cifar100]
 *   mat train --dataset cifar10 --data-dir /tmp/cifar-stand-in ...
 *
 * Each image is its class's colour and stripe orientation plus seeded noise. Numbers measured on it say
 * nothing about CIFAR. The archive carries a STAND-IN.txt member saying so, and the script refuses to
 * replace an existing archive (the real one may be there).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { getDatasetSpec } = require('@mat/core');

function argValue(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

/** A small seeded generator (mulberry32): the same archive on every machine. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` records: label byte(s), then the red, green and blue 32x32 planes. */
function records(layout, count, random) {
  const numClasses = layout.labelRanges[layout.labelIndex];
  const labelBytes = layout.labelRanges.length;
  const recordBytes = labelBytes + 3 * 1024;
  const out = new Uint8Array(count * recordBytes);
  for (let r = 0; r < count; r++) {
    const cls = Math.floor(random() * numClasses);
    const at = r * recordBytes;
    // CIFAR-100 records hold the coarse label first; 5 fine classes per coarse one is enough here.
    for (let b = 0; b < labelBytes; b++)
      out[at + b] = b === layout.labelIndex ? cls : Math.floor(cls / 5) % layout.labelRanges[b];
    const angle = (Math.PI * cls) / numClasses;
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    for (let c = 0; c < 3; c++) {
      const tint = 60 + ((cls * (37 + 53 * c)) % 140);
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const stripe = Math.sin((x * dx + y * dy) * 0.8) * 40;
          const noise = (random() - 0.5) * 90;
          out[at + labelBytes + c * 1024 + y * 32 + x] = Math.max(
            0,
            Math.min(255, Math.round(tint + stripe + noise)),
          );
        }
      }
    }
  }
  return out;
}

function main() {
  const dataset = argValue('--dataset', 'cifar10');
  const dataDir = argValue('--data-dir', undefined);
  if (!dataDir) throw new Error('--data-dir is required (the directory mat train --data-dir will read)');
  const spec = getDatasetSpec(dataset);
  if (spec.format !== 'cifar') throw new Error(`${dataset} is not a CIFAR dataset`);
  const target = path.join(dataDir, spec.name, spec.archive.file);
  if (fs.existsSync(target))
    throw new Error(`${target} exists; not replacing it (delete it first if it is a stand-in)`);

  const { layout, counts } = spec;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-stand-in-'));
  try {
    const root = path.join(work, layout.root);
    fs.mkdirSync(root);
    let seed = 1;
    for (const split of ['train', 'test']) {
      const members = layout.members[split];
      const per = counts[split] / members.length;
      for (const member of members)
        fs.writeFileSync(path.join(root, member), records(layout, per, rng(seed++)));
    }
    fs.writeFileSync(
      path.join(root, 'STAND-IN.txt'),
      `Synthetic ${spec.name} stand-in written by MAT's scripts/make-cifar-stand-in.js: real format, not real images.\n`,
    );
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const partial = `${target}.partial`;
    // gzip -1: the noise hardly compresses at any level, so the fastest one.
    const tar = spawnSync('tar', ['-I', 'gzip -1', '-cf', partial, '-C', work, layout.root], {
      stdio: 'inherit',
    });
    if (tar.status !== 0) throw new Error(`tar failed (exit ${tar.status})`);
    fs.renameSync(partial, target);
    console.log(
      `wrote ${target} (${counts.train} train / ${counts.test} test synthetic images; not ${spec.name})`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(`make-cifar-stand-in: ${err.message}`);
  process.exit(1);
}
