import * as fs from 'fs';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import {
  findLatestCheckpoint,
  parseRunConfig,
  RunDirectory,
  type RunConfig,
  type RunSummary,
} from '@mat/core';
import type { EvaluationSpec } from './spec';

/**
 * Where one run of a study stands, from its files alone (so a study killed at any point resumes from what
 * is on disk), and what the study does next with it. `decideRunAction` is pure and table-tested.
 */
export interface RunFacts {
  /** The run directory holds a config.json. */
  exists: boolean;
  /** That config equals the planned one (ignoring where the run directory is). */
  sameConfig: boolean;
  hasCheckpoint: boolean;
  summary?: Pick<RunSummary, 'stoppedEarly' | 'stepsDone' | 'error'>;
  /** The planned config's train.maxSteps: a run that stops there is done. */
  maxSteps?: number;
  /** Every evaluation file the study wants of this run is there. */
  evaluated: boolean;
  /** The study has an evaluation to run. */
  evaluationWanted: boolean;
}

export type RunAction =
  /** A run of another config is in the way: an error naming it, nothing is touched. */
  | { type: 'conflict'; reason: string }
  /** Train from the start (a directory of ours without a checkpoint is started over). */
  | { type: 'train'; overwrite: boolean }
  /** Continue from the newest checkpoint. */
  | { type: 'resume' }
  | { type: 'evaluate' }
  /** The run failed (e.g. diverged): reported as failed, not retried. */
  | { type: 'failed'; reason: string }
  | { type: 'done' };

/** A run's training is over: it reached its end, or the train.maxSteps it was given. */
export function trainingDone(
  summary: Pick<RunSummary, 'stoppedEarly' | 'stepsDone'> | undefined,
  maxSteps: number | undefined,
): boolean {
  return (
    summary !== undefined &&
    (!summary.stoppedEarly || (maxSteps !== undefined && summary.stepsDone >= maxSteps))
  );
}

export function decideRunAction(f: RunFacts): RunAction {
  if (f.exists && !f.sameConfig) return { type: 'conflict', reason: 'holds a run of a different config' };
  if (f.summary?.error) return { type: 'failed', reason: f.summary.error };
  if (!trainingDone(f.summary, f.maxSteps)) {
    if (f.exists && f.hasCheckpoint) return { type: 'resume' };
    return { type: 'train', overwrite: f.exists };
  }
  if (f.evaluationWanted && !f.evaluated) return { type: 'evaluate' };
  return { type: 'done' };
}

/**
 * The study's evaluation file of a run (in the run directory, where `mat report` finds it too): of its
 * final checkpoint, or of the checkpoint at the end of `epoch` (evaluation.epochs).
 */
export function studyEvalFile(runDir: string, epoch?: number): string {
  return path.join(runDir, studyEvalFileName(epoch));
}

export function studyEvalFileName(epoch?: number): string {
  return epoch === undefined ? 'eval-study.json' : `eval-study-epoch-${epoch}.json`;
}

/** The evaluations a study wants of a run: each epoch of evaluation.epochs, then the final checkpoint. */
export function wantedEvaluations(evaluation: EvaluationSpec | undefined): Array<number | undefined> {
  return evaluation ? [...(evaluation.epochs ?? []), undefined] : [];
}

/** Reads the facts of a planned run from its directory. */
export function readRunFacts(planned: RunConfig, evaluation: EvaluationSpec | undefined): RunFacts {
  const run = RunDirectory.of(planned);
  const exists = fs.existsSync(run.configFile);
  let sameConfig = false;
  if (exists) {
    const onDisk = parseRunConfig(run.readConfig(), run.configFile);
    sameConfig = isDeepStrictEqual({ ...onDisk, outDir: '' }, { ...planned, outDir: '' });
  }
  return {
    exists,
    sameConfig,
    hasCheckpoint: exists && findLatestCheckpoint(run.path) !== undefined,
    // Through the summary's contract: a damaged file is an error naming it, not a guess.
    summary: run.readSummary(),
    maxSteps: planned.train.maxSteps,
    evaluated: wantedEvaluations(evaluation).every((epoch) => fs.existsSync(studyEvalFile(run.path, epoch))),
    evaluationWanted: evaluation !== undefined,
  };
}
