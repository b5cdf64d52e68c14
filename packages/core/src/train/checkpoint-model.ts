import * as fs from 'fs';
import * as path from 'path';
import type { RunConfig } from '../config/schema';
import { getDatasetSpec } from '../data/registry';
import type { Model } from '../models/model';
import { createModel } from '../models/registry';
import {
  applyEntriesToModel,
  assertFiniteEntries,
  decodeTensorFile,
  readWeightFileBytes,
  type TensorEntry,
} from '../models/weights-file';
import {
  CHECKPOINT_FORMAT,
  findLatestCheckpoint,
  peerFileName,
  readManifest,
  stepDirName,
  type CheckpointManifest,
} from './checkpoint';

/**
 * One trained peer's model out of a run's checkpoint (what `mat export` writes to a model file): the `param/…`
 * and `buffer/…` entries of its peer file, without the optimizer's `momentum/…`. Only committed checkpoints
 * (those with a manifest.json) are read, and only finite weights are accepted.
 */

/** A committed checkpoint of a run. */
export interface CommittedCheckpoint {
  step: number;
  dir: string;
  manifest: CheckpointManifest;
}

function stepDirs(root: string): Array<{ step: number; committed: boolean }> {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => /^step-\d{8}$/.test(d))
    .map((d) => ({ step: Number(d.slice(5)), committed: fs.existsSync(path.join(root, d, 'manifest.json')) }))
    .sort((a, b) => a.step - b.step);
}

function committedList(root: string): string {
  const steps = stepDirs(root)
    .filter((d) => d.committed)
    .map((d) => d.step);
  return steps.length > 0 ? `committed: step ${steps.join(', ')}` : 'no committed checkpoint';
}

/**
 * The run's checkpoint at `step`, or its newest committed one when `step` is undefined. A step that has no
 * checkpoint, or whose checkpoint was never committed (no manifest.json: the run stopped while writing it,
 * its peer files may be partial), is an error that lists the committed steps.
 */
export function findCommittedCheckpoint(runDir: string, step?: number): CommittedCheckpoint {
  const root = path.join(runDir, 'checkpoints');
  let dir: string;
  if (step === undefined) {
    const latest = findLatestCheckpoint(runDir);
    if (!latest) {
      const partial = stepDirs(root).map((d) => d.step);
      throw new Error(
        `${root}: no committed checkpoint` +
          (partial.length > 0 ? ` (step ${partial.join(', ')} never committed: no manifest.json)` : ''),
      );
    }
    dir = latest.dir;
  } else {
    if (!Number.isSafeInteger(step) || step < 0)
      throw new Error(`checkpoint step must be an integer ≥ 0, got ${step}`);
    dir = path.join(root, stepDirName(step));
    if (!fs.existsSync(dir))
      throw new Error(`${root}: no checkpoint at step ${step} (${committedList(root)})`);
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
      throw new Error(
        `${dir}: the checkpoint at step ${step} was never committed (no manifest.json; its files may be ` +
          `partial) (${committedList(root)})`,
      );
    }
  }
  const manifest = readManifest(dir);
  const dirStep = Number(path.basename(dir).slice(5));
  if (manifest.step !== dirStep)
    throw new Error(`${dir}: manifest.json says step ${manifest.step}, the directory step ${dirStep}`);
  return { step: manifest.step, dir, manifest };
}

/** The model part of one peer's checkpoint file, validated (format, peer, step, finite values). */
export interface CheckpointPeerWeights {
  /** MAT names (the `param/` and `buffer/` prefixes removed), in tfjs layouts. */
  entries: TensorEntry[];
  file: string;
  arch: string;
  step: number;
  seed: number;
}

const MODEL_SECTIONS = ['param/', 'buffer/'];
const ALL_SECTIONS = [...MODEL_SECTIONS, 'momentum/'];

/** Reads peer `peer`'s weights from a committed checkpoint; every problem is an Error naming the file. */
export function readCheckpointPeerWeights(
  checkpoint: CommittedCheckpoint,
  peer: number,
): CheckpointPeerWeights {
  const { dir, manifest } = checkpoint;
  if (!Number.isSafeInteger(peer) || peer < 0 || peer >= manifest.peers) {
    throw new Error(
      `${dir}: no peer ${peer}; the checkpoint has ${manifest.peers} peer(s): 0..${manifest.peers - 1}`,
    );
  }
  const file = path.join(dir, peerFileName(peer));
  const { entries, metadata } = decodeTensorFile(readWeightFileBytes(file), file);
  if (metadata.format !== CHECKPOINT_FORMAT)
    throw new Error(`${file}: not a MAT checkpoint file (format "${metadata.format ?? 'missing'}")`);
  if (metadata.peer !== String(peer))
    throw new Error(`${file}: holds peer ${metadata.peer ?? '(none)'}, expected peer ${peer}`);
  if (metadata.step !== String(manifest.step))
    throw new Error(`${file}: is from step ${metadata.step ?? '(none)'}, the manifest says ${manifest.step}`);
  if (metadata.arch !== manifest.arch)
    throw new Error(`${file}: is a ${metadata.arch} model, the manifest says ${manifest.arch}`);
  const unknown = entries.filter((e) => !ALL_SECTIONS.some((s) => e.name.startsWith(s))).map((e) => e.name);
  if (unknown.length > 0)
    throw new Error(`${file}: entries outside param/, buffer/, momentum/: ${unknown.join(', ')}`);
  const model = entries.filter((e) => MODEL_SECTIONS.some((s) => e.name.startsWith(s)));
  assertFiniteEntries(model, file);
  return {
    entries: model.map((e) => ({ ...e, name: e.name.slice(e.name.indexOf('/') + 1) })),
    file,
    arch: manifest.arch,
    step: manifest.step,
    seed: manifest.seed,
  };
}

/**
 * A model of the run's architecture (dataset's classes and image shape, WideResNet depth and width) with
 * zero-filled weights, to load weights into; the caller disposes it. Needs an initialised tfjs backend.
 */
export function emptyRunModel(config: RunConfig): Model {
  const dataset = getDatasetSpec(config.data.dataset);
  return createModel(config.model.arch, {
    seed: 0,
    skipInit: true,
    numClasses: dataset.numClasses,
    inputShape: [...dataset.shape],
    depth: config.model.depth,
    widen: config.model.widen,
  });
}

/** The run's model with the peer's checkpoint weights assigned; the caller disposes it. */
export function modelFromCheckpoint(config: RunConfig, weights: CheckpointPeerWeights): Model {
  if (weights.arch !== config.model.arch) {
    throw new Error(`${weights.file}: is a ${weights.arch} model, the run config says ${config.model.arch}`);
  }
  const model = emptyRunModel(config);
  try {
    applyEntriesToModel(model, weights.entries, weights.file);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
