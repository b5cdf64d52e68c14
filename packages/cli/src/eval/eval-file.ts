import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, type EvalSuiteResult, type WeightsLayout } from '@mat/core';

/**
 * What `mat eval` writes (docs/eval-format.md). An evaluation of a run's checkpoint goes to
 * runs/<name>/eval-*.json, which `mat report` reads; one of a weights file (`--weights`) goes beside that file.
 */
export interface EvalFile extends EvalSuiteResult {
  kind: 'mat-eval';
  version: 1;
  run: string;
  checkpoint: string;
  /** Training step of the checkpoint. */
  step: number;
  /**
   * sha256 of the weights evaluated: the checkpoint's peer files in manifest order (checkpointDigest), or the
   * --weights file. A study re-evaluates a checkpoint whose digest differs. Absent in files written before
   * it was recorded.
   */
  weightsSha256?: string;
  dataset: string;
  backend: string;
  createdAt: string;
}

/** The model file `mat eval --weights` evaluated. */
export interface WeightsSource {
  file: string;
  layout: WeightsLayout;
  arch: string;
  /** The file's `__metadata__`, as written (e.g. by `mat export`: run, peer, step, seed). */
  metadata: Record<string, string>;
}

/**
 * `mat eval --weights`: run, checkpoint and step come from the file's metadata when `mat export` wrote it, and
 * are null for a model from elsewhere.
 */
export interface WeightsEvalFile extends Omit<EvalFile, 'run' | 'checkpoint' | 'step'> {
  run: string | null;
  checkpoint: string | null;
  step: number | null;
  weights: WeightsSource;
}

/** What a default file name says about a suite: its attacks and norms. */
export type SuiteNames = { attacks: ReadonlyArray<{ name: string }>; eps: EvalSuiteResult['eps'] };

/** `<attacks>-<norms>`, e.g. `pgd+apgd-ce-linf+l2`. */
function suiteTag(suite: SuiteNames): string {
  const attacks = [...new Set(suite.attacks.map((a) => a.name))].join('+');
  const norms = Object.keys(suite.eps).join('+');
  return `${attacks}-${norms}`;
}

/** Default file name: eval-step<step>-<attacks>-<norms>.json, e.g. eval-step600-pgd+apgd-ce-linf+l2.json. */
export function evalFileName(step: number, suite: SuiteNames): string {
  return `eval-step${step}-${suiteTag(suite)}.json`;
}

/** Default output of `--weights model.safetensors`: model.eval-<attacks>-<norms>.json beside it. */
export function weightsEvalPath(weightsFile: string, suite: SuiteNames): string {
  const stem = weightsFile.replace(/\.safetensors$/, '');
  return `${stem}.eval-${suiteTag(suite)}.json`;
}

/**
 * Indented JSON with every array of numbers on one line (the per-image index lists would otherwise take a line
 * per image). Only arrays that JSON.stringify broke over lines are joined: a newline never occurs inside a JSON
 * string, so no string value is touched.
 */
export function formatEvalJson(content: object): string {
  return (
    JSON.stringify(content, null, 2).replace(/\[\n[\s\d.eE+,-]*\]/g, (arr) => arr.replace(/\s+/g, '')) + '\n'
  );
}

/**
 * Checks that `file` may be (over)written: it does not exist, or it is an eval file itself, so an output path
 * naming a model or a config by mistake is an error, not a loss. Call it before the evaluation, too.
 */
export function assertEvalFileWritable(file: string): void {
  if (!fs.existsSync(file)) return;
  let kind: unknown;
  try {
    kind = (JSON.parse(fs.readFileSync(file, 'utf8')) as { kind?: unknown }).kind;
  } catch {
    kind = undefined;
  }
  if (kind !== 'mat-eval')
    throw new Error(`${file}: exists and is not a mat eval file; remove it or choose another --out`);
}

/** Writes atomically (writeFileAtomic), so a reader never sees half a file; see assertEvalFileWritable. */
export function writeEvalFile(file: string, content: EvalFile | WeightsEvalFile): void {
  assertEvalFileWritable(file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, Buffer.from(formatEvalJson(content)));
}

/** Reads and checks one eval file of a run's checkpoint; the error names the file and what is wrong. */
export function readEvalFile(file: string): EvalFile {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const f = data as Partial<WeightsEvalFile>;
  if (f.kind !== 'mat-eval' || f.version !== 1)
    throw new Error(`${file}: not a mat eval file (kind/version)`);
  if (f.step === null && f.weights)
    throw new Error(`${file}: evaluates the weights file ${f.weights.file}, which has no training step`);
  if (!Array.isArray(f.models) || typeof f.step !== 'number')
    throw new Error(`${file}: missing models or step`);
  return f as EvalFile;
}
