import * as fs from 'fs';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import {
  checkpointDigest,
  findLatestCheckpoint,
  parseRunConfig,
  RunDirectory,
  stepDirName,
  type RunConfig,
  type RunSummary,
} from '@mat/core';
import { readEvalFile } from '../eval/eval-file';
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
  /** Every evaluation file the study wants of this run is there, and none measured other weights. */
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

/**
 * Where an evaluation file the study wants stands against the checkpoint it is of:
 * - missing: not there yet;
 * - current: it records the sha256 of the weights that are there now;
 * - stale: it measured other weights (the run was trained again, e.g. from step 0 by other code): evaluated
 *   again, since its numbers would be reported for a model they are not of;
 * - unverified: kept as it is, because the checkpoint is not on this machine (weights are not committed
 *   with a study) or the file was written before eval files recorded weightsSha256.
 */
export type EvaluationState =
  | { state: 'missing' }
  | { state: 'current' }
  | { state: 'stale'; recorded: string; actual: string }
  | { state: 'unverified'; reason: string };

/** The state of one evaluation file of a run, given the checkpoint it is of (undefined: none on disk). */
export function evaluationState(file: string, checkpointDir: string | undefined): EvaluationState {
  if (!fs.existsSync(file)) return { state: 'missing' };
  const recorded = readEvalFile(file).weightsSha256;
  if (recorded === undefined)
    return { state: 'unverified', reason: 'written before eval files recorded their weights' };
  if (checkpointDir === undefined)
    return { state: 'unverified', reason: 'the checkpoint it measured is not on this machine' };
  const actual = checkpointDigest(checkpointDir);
  return actual === recorded ? { state: 'current' } : { state: 'stale', recorded, actual };
}

/**
 * The checkpoint an evaluation of the study is of: the one at the end of `epoch` (kept by train.keepEpochs;
 * step epoch × steps per epoch), or the newest for the final evaluation; undefined when it is not on disk.
 */
export function evaluatedCheckpointDir(
  runDir: string,
  epoch: number | undefined,
  trained: { config: RunConfig; summary: Pick<RunSummary, 'totalSteps'> },
): string | undefined {
  if (epoch === undefined) return findLatestCheckpoint(runDir)?.dir;
  const dir = path.join(runDir, 'checkpoints', stepDirName(epochStep(epoch, trained)));
  return fs.existsSync(path.join(dir, 'manifest.json')) ? dir : undefined;
}

function epochStep(epoch: number, t: { config: RunConfig; summary: Pick<RunSummary, 'totalSteps'> }): number {
  return epoch * (t.summary.totalSteps / t.config.train.epochs);
}

/**
 * The checkpoint at the end of `epoch` of a trained run; an error names it when it is not there. `known`: its
 * config and summary when the caller has read them already.
 */
export function epochCheckpointDir(
  runDir: string,
  epoch: number,
  known?: { config: RunConfig; summary: Pick<RunSummary, 'totalSteps'> },
): string {
  const trained = known ?? readTrainedRun(runDir);
  if (!trained) throw new Error(`${runDir}: no summary.json, so no trained run to take epoch ${epoch} of`);
  const dir = evaluatedCheckpointDir(runDir, epoch, trained);
  if (dir === undefined)
    throw new Error(
      `${runDir}: no checkpoint of epoch ${epoch} (step ${epochStep(epoch, trained)}) at ` +
        path.join(runDir, 'checkpoints', stepDirName(epochStep(epoch, trained))),
    );
  return dir;
}

/** config.json and summary.json of a run that has a summary (undefined without), through their contracts. */
export function readTrainedRun(runDir: string): { config: RunConfig; summary: RunSummary } | undefined {
  const run = new RunDirectory(runDir);
  const summary = run.readSummary();
  if (!summary) return undefined;
  return { config: parseRunConfig(run.readConfig(), run.configFile), summary };
}

/** The state of each evaluation the study wants of a trained run, in order (see wantedEvaluations). */
export function evaluationStates(
  runDir: string,
  evaluation: EvaluationSpec | undefined,
  trained: { config: RunConfig; summary: Pick<RunSummary, 'totalSteps'> },
): Array<{ epoch: number | undefined; file: string } & EvaluationState> {
  return wantedEvaluations(evaluation).map((epoch) => {
    const file = studyEvalFile(runDir, epoch);
    return { epoch, file, ...evaluationState(file, evaluatedCheckpointDir(runDir, epoch, trained)) };
  });
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
  // Through the summary's contract: a damaged file is an error naming it, not a guess.
  const summary = run.readSummary();
  const maxSteps = planned.train.maxSteps;
  // Evaluation files matter only to a run of this config whose training is over.
  const evaluated =
    exists && sameConfig && summary !== undefined && trainingDone(summary, maxSteps)
      ? evaluationStates(run.path, evaluation, { config: planned, summary }).every(
          (e) => e.state === 'current' || e.state === 'unverified',
        )
      : false;
  return {
    exists,
    sameConfig,
    hasCheckpoint: exists && findLatestCheckpoint(run.path) !== undefined,
    summary,
    maxSteps,
    evaluated,
    evaluationWanted: evaluation !== undefined,
  };
}
