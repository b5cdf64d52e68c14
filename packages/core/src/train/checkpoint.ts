import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeTensorFile, encodeTensorFile } from '../models/weights-file';
import { hashFileSync } from '../data/checksum';
import { writeFileAtomic } from '../run/atomic-write';
import type { NamedVariable } from '../models/model';
import type { Peer } from './peer';

/**
 * Checkpoints of a run: one tensor file per peer (weights, batch-norm buffers, momentum buffers) in the
 * safetensors format, and a manifest written last. A checkpoint exists only once its manifest does, and
 * `latest.json` moves to it only then, so a crash at any moment leaves the previous checkpoint intact.
 *
 *   <runDir>/checkpoints/step-00000120/peer-0.safetensors
 *   <runDir>/checkpoints/step-00000120/peer-1.safetensors
 *   <runDir>/checkpoints/step-00000120/manifest.json
 *   <runDir>/checkpoints/latest.json        {"step":120,"dir":"step-00000120"}
 *
 * Random state: every stream is derived from (seed, purpose, step) (see ./streams.ts), so the step and the
 * seed in the manifest are the complete RNG state.
 */

export const CHECKPOINT_FORMAT = 'mat-checkpoint';
export const CHECKPOINT_VERSION = '1';

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: string;
  /** Number of completed training steps. */
  step: number;
  peers: number;
  seed: number;
  arch: string;
  files: string[];
  createdAt: string;
}

/** Each peer file holds its weights, batch-norm buffers and momentum buffers under these prefixes. */
type Section = 'param' | 'buffer' | 'momentum';

function sectionsOf(peer: Peer): Record<Section, readonly NamedVariable[]> {
  return { param: peer.model.params, buffer: peer.model.buffers, momentum: peer.optimizer.state() };
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Encodes one peer's complete training state. */
export function encodePeerState(peer: Peer, meta: { step: number; seed: number }): Uint8Array {
  const entries = [];
  for (const [section, vars] of Object.entries(sectionsOf(peer))) {
    for (const { name, variable } of vars) {
      entries.push({
        name: `${section}/${name}`,
        shape: variable.shape.slice(),
        dtype: 'float32' as const,
        data: variable.dataSync() as Float32Array,
      });
    }
  }
  return encodeTensorFile(entries, {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    arch: peer.model.arch,
    peer: String(peer.index),
    step: String(meta.step),
    seed: String(meta.seed),
  });
}

/**
 * Restores one peer from a tensor file. Everything is validated before anything is assigned, so a bad file
 * leaves the peer exactly as it was. A tensor holding NaN or ±Infinity (a diverged model) is refused: a run
 * never resumes from it and no accuracy is ever computed from it.
 */
export function restorePeerState(peer: Peer, bytes: Uint8Array, source: string): { step: number } {
  const { tensors, metadata } = decodeTensorFile(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${source}: not a MAT checkpoint (format "${metadata.format ?? 'missing'}")`);
  }
  if (metadata.arch !== peer.model.arch) {
    throw new Error(
      `${source}: checkpoint is for model "${metadata.arch}", this run uses "${peer.model.arch}"`,
    );
  }
  const problems: string[] = [];
  const planned: Array<{ variable: tf.Variable; data: Float32Array; shape: number[] }> = [];
  const momentum = new Map<string, { shape: number[]; data: Float32Array }>();
  const expected = new Set<string>();
  for (const [section, vars] of Object.entries(sectionsOf(peer))) {
    for (const { name, variable } of vars) {
      const key = `${section}/${name}`;
      expected.add(key);
      const t = tensors.get(key);
      if (!t) {
        problems.push(`missing ${key}`);
      } else if (t.shape.join(',') !== variable.shape.join(',')) {
        problems.push(`${key} has shape [${t.shape}], expected [${variable.shape}]`);
      } else if (t.dtype !== 'float32') {
        problems.push(`${key} has dtype ${t.dtype}, expected float32`);
      } else {
        const data = t.data as Float32Array;
        const bad = nonFinite(data);
        if (bad) problems.push(`${key} holds ${bad}`);
        else if (section === 'momentum') momentum.set(name, { shape: t.shape, data });
        else planned.push({ variable, data, shape: t.shape });
      }
    }
  }
  for (const key of tensors.keys()) if (!expected.has(key)) problems.push(`unexpected ${key}`);
  if (problems.length > 0) {
    const nan = problems.some((p) => p.includes('non-finite'));
    throw new Error(
      nan
        ? `${source}: checkpoint holds non-finite values (a diverged model; resume from an earlier checkpoint or start anew): ${problems.join('; ')}`
        : `${source}: checkpoint does not match the model: ${problems.join('; ')}`,
    );
  }

  for (const { variable, data, shape } of planned)
    tf.tidy(() => variable.assign(tf.tensor(data, shape, 'float32')));
  peer.optimizer.loadState(momentum);
  return { step: Number(metadata.step) };
}

/** "3 non-finite values (NaN at index 17)" when `data` holds NaN or ±Infinity, else undefined. */
function nonFinite(data: Float32Array): string | undefined {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (count++ === 0) first = i;
    }
  }
  if (count === 0) return undefined;
  return `${count} non-finite value${count === 1 ? '' : 's'} (${data[first]} at index ${first})`;
}

/**
 * Writes a global checkpoint of all peers at `step` and moves `latest.json` to it. Keeps the newest `keep`
 * (default 3) and the `pinned` steps.
 */
export function saveCheckpoint(
  runDir: string,
  peers: readonly Peer[],
  meta: { step: number; seed: number },
  keep: number | { keep?: number; pinned?: ReadonlySet<number> } = 3,
): string {
  for (const peer of peers) writePeerCheckpoint(runDir, peer, meta);
  return commitCheckpoint(
    runDir,
    { ...meta, peers: peers.length, arch: peers[0]?.model.arch ?? 'unknown' },
    keep,
  );
}

/**
 * Writes one peer's file of the checkpoint at `step` (no manifest: the checkpoint does not exist until
 * commitCheckpoint). The distributed runtime calls this in each worker, on a filesystem shared with the
 * coordinator, which commits once every peer's file is there.
 */
export function writePeerCheckpoint(
  runDir: string,
  peer: Peer,
  meta: { step: number; seed: number },
): string {
  const dir = path.join(runDir, 'checkpoints', stepDirName(meta.step));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, peerFileName(peer.index));
  writeFileAtomic(file, encodePeerState(peer, meta));
  return file;
}

export function peerFileName(index: number): string {
  return `peer-${index}.safetensors`;
}

/**
 * Makes the checkpoint at `step` complete: writes its manifest, moves `latest.json`, prunes old ones but
 * the newest `keep` and the `pinned` steps (those an evaluation job still has to read).
 */
export function commitCheckpoint(
  runDir: string,
  meta: { step: number; seed: number; peers: number; arch: string },
  keep: number | { keep?: number; pinned?: ReadonlySet<number> } = 3,
): string {
  const root = path.join(runDir, 'checkpoints');
  const dir = path.join(root, stepDirName(meta.step));
  const files = Array.from({ length: meta.peers }, (_, i) => peerFileName(i));
  const absent = files.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (absent.length > 0)
    throw new Error(`${dir}: cannot commit the checkpoint, missing ${absent.join(', ')}`);
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: meta.step,
    peers: meta.peers,
    seed: meta.seed,
    arch: meta.arch,
    files,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(dir, 'manifest.json'), Buffer.from(JSON.stringify(manifest, null, 2)));
  const latest = findLatestCheckpoint(runDir);
  // Never move latest.json backwards (a late commit of an older step after a rollback).
  if (!latest || latest.step <= meta.step) {
    writeFileAtomic(
      path.join(root, 'latest.json'),
      Buffer.from(JSON.stringify({ step: meta.step, dir: stepDirName(meta.step) })),
    );
  }
  const opts = typeof keep === 'number' ? { keep } : keep;
  pruneCheckpoints(runDir, opts.keep ?? 3, opts.pinned);
  return dir;
}

/** Restores one peer from the committed checkpoint in `dir` (validated before anything is assigned). */
export function loadPeerCheckpoint(dir: string, peer: Peer): CheckpointManifest {
  const manifest = readManifest(dir);
  const file = path.join(dir, peerFileName(peer.index));
  if (!fs.existsSync(file)) throw new Error(`${dir}: missing ${path.basename(file)}`);
  restorePeerState(peer, new Uint8Array(fs.readFileSync(file)), file);
  return manifest;
}

/**
 * sha256 over a complete checkpoint's peer files, in the manifest's order: the identity of the weights an
 * evaluation measured. The files hold no time stamp, so the same training gives the same digest; a run
 * trained again from step 0 by other code is another model under the same path, and this tells them apart.
 */
export function checkpointDigest(dir: string): string {
  const manifest = readManifest(dir);
  const hash = createHash('sha256');
  for (const file of manifest.files) hashFileSync(hash, path.join(dir, file));
  return hash.digest('hex');
}

/** The checkpoint directories under `root` (step-XXXXXXXX), complete (with manifest.json) or not, by step. */
function checkpointDirs(root: string): Array<{ step: number; dir: string; complete: boolean }> {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => /^step-\d{8}$/.test(d))
    .map((d) => {
      const dir = path.join(root, d);
      return { step: Number(d.slice(5)), dir, complete: fs.existsSync(path.join(dir, 'manifest.json')) };
    })
    .sort((a, b) => a.step - b.step);
}

function completeCheckpointDirs(root: string): Array<{ step: number; dir: string }> {
  return checkpointDirs(root)
    .filter((c) => c.complete)
    .map(({ step, dir }) => ({ step, dir }));
}

/** Removes the complete checkpoints of a run but the newest `keep` and the `pinned` steps. */
export function pruneCheckpoints(runDir: string, keep = 3, pinned: ReadonlySet<number> = new Set()): void {
  const dirs = completeCheckpointDirs(path.join(runDir, 'checkpoints'));
  for (const { step, dir } of dirs.slice(0, Math.max(0, dirs.length - keep))) {
    if (!pinned.has(step)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The newest complete checkpoint of a run, or undefined when there is none. */
export function findLatestCheckpoint(runDir: string): { step: number; dir: string } | undefined {
  const root = path.join(runDir, 'checkpoints');
  const dirs = completeCheckpointDirs(root);
  return dirs[dirs.length - 1];
}

/**
 * The newest complete checkpoint of a run, as a user sees it (resume, mat eval). A checkpoint directory
 * without manifest.json is one whose writing was cut short (the process was killed between the peer files
 * and the manifest); newer than the newest complete checkpoint, it is skipped with a warning naming it.
 */
export function newestCheckpoint(
  runDir: string,
  warn: (message: string) => void,
): { step: number; dir: string } | undefined {
  const { latest, cutShort } = scanCheckpoints(runDir);
  for (const dir of cutShort) {
    warn(
      `skipping ${dir}: no manifest.json (a checkpoint whose writing was cut short)` +
        (latest ? `; the newest complete checkpoint is at step ${latest.step}` : ''),
    );
  }
  return latest;
}

/**
 * The checkpoint a run resumed from its directory starts from: newestCheckpoint, and an error when there
 * are only checkpoints whose writing was cut short, since resuming would silently start the run again
 * from step 0. Undefined when the run has no checkpoint directory at all (it starts from step 0).
 */
export function checkpointToResume(
  runDir: string,
  warn: (message: string) => void,
): { step: number; dir: string } | undefined {
  const { latest, cutShort } = scanCheckpoints(runDir);
  if (cutShort.length > 0 && !latest) {
    throw new Error(
      `${cutShort.join(', ')}: no manifest.json (a checkpoint whose writing was cut short), and the run has ` +
        'no complete checkpoint: resuming would start it again from step 0. Start it anew instead ' +
        '(--overwrite, or delete the run directory)',
    );
  }
  return newestCheckpoint(runDir, warn);
}

/** The newest complete checkpoint, and the checkpoint directories without a manifest newer than it. */
function scanCheckpoints(runDir: string): {
  latest?: { step: number; dir: string };
  cutShort: string[];
} {
  const dirs = checkpointDirs(path.join(runDir, 'checkpoints'));
  const complete = dirs.filter((c) => c.complete);
  const newest = complete[complete.length - 1];
  const latest = newest && { step: newest.step, dir: newest.dir };
  const cutShort = dirs.filter((c) => !c.complete && (!latest || c.step > latest.step)).map((c) => c.dir);
  return { latest, cutShort };
}

export function readManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, 'manifest.json');
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointManifest;
  } catch (err) {
    throw new Error(`${file}: unreadable checkpoint manifest: ${(err as Error).message}`);
  }
  if (
    manifest.format !== CHECKPOINT_FORMAT ||
    !Number.isInteger(manifest.step) ||
    !Array.isArray(manifest.files)
  ) {
    throw new Error(`${file}: not a MAT checkpoint manifest`);
  }
  return manifest;
}

/** Restores all peers from a checkpoint directory; validates every file before changing any peer. */
export function loadCheckpoint(dir: string, peers: readonly Peer[]): CheckpointManifest {
  const manifest = readManifest(dir);
  if (manifest.peers !== peers.length) {
    throw new Error(`${dir}: checkpoint has ${manifest.peers} peers, this run has ${peers.length}`);
  }
  const blobs = peers.map((peer) => {
    const file = path.join(dir, `peer-${peer.index}.safetensors`);
    if (!fs.existsSync(file)) throw new Error(`${dir}: missing ${path.basename(file)}`);
    return { file, bytes: new Uint8Array(fs.readFileSync(file)) };
  });
  // Decode and validate all files first (restorePeerState validates before assigning) — a snapshot lets us
  // roll back the peers restored so far if a later file turns out to be bad.
  const before = peers.map((peer) => encodePeerState(peer, { step: 0, seed: 0 }));
  try {
    peers.forEach((peer, i) => restorePeerState(peer, blobs[i].bytes, blobs[i].file));
  } catch (err) {
    peers.forEach((peer, i) => restorePeerState(peer, before[i], 'snapshot'));
    throw err;
  }
  return manifest;
}
