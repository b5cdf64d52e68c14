import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic, type EvalSuiteResult } from '@mat/core';

/** What `mat eval` writes to runs/<name>/eval-*.json and `mat report` reads. */
export interface EvalFile extends EvalSuiteResult {
  kind: 'mat-eval';
  version: 1;
  run: string;
  checkpoint: string;
  /** Training step of the checkpoint. */
  step: number;
  dataset: string;
  backend: string;
  createdAt: string;
}

/** Default file name: eval-step<step>-<attacks>-<norms>.json, e.g. eval-step600-pgd+apgd-ce-linf+l2.json. */
export function evalFileName(step: number, result: Pick<EvalSuiteResult, 'attacks' | 'eps'>): string {
  const attacks = [...new Set(result.attacks.map((a) => a.name))].join('+');
  const norms = Object.keys(result.eps).join('+');
  return `eval-step${step}-${attacks}-${norms}.json`;
}

/** Writes atomically, so a reader never sees half a file. */
export function writeEvalFile(file: string, content: EvalFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeJsonAtomic(file, content);
}

/** Reads and checks one eval file; the error names the file and what is wrong. */
export function readEvalFile(file: string): EvalFile {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const f = data as Partial<EvalFile>;
  if (f.kind !== 'mat-eval' || f.version !== 1)
    throw new Error(`${file}: not a mat eval file (kind/version)`);
  if (!Array.isArray(f.models) || typeof f.step !== 'number')
    throw new Error(`${file}: missing models or step`);
  return f as EvalFile;
}
