import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpointDigest, RunDirectory } from '@mat/core';
import {
  decideRunAction,
  epochCheckpointDir,
  evaluationState,
  parseExperimentSpec,
  planStudy,
  readRunFacts,
  type RunFacts,
  type RunAction,
} from '../../../packages/cli/src/experiment';

const fresh: RunFacts = {
  exists: false,
  sameConfig: false,
  hasCheckpoint: false,
  evaluated: false,
  evaluationWanted: true,
};
const trained = { stoppedEarly: false, stepsDone: 10 };

describe('decideRunAction', () => {
  it.each<[string, Partial<RunFacts>, RunAction]>([
    ['nothing on disk', {}, { type: 'train', overwrite: false }],
    [
      'a run of another config',
      { exists: true, sameConfig: false },
      { type: 'conflict', reason: 'holds a run of a different config' },
    ],
    ['started, no checkpoint yet', { exists: true, sameConfig: true }, { type: 'train', overwrite: true }],
    [
      'interrupted after a checkpoint',
      { exists: true, sameConfig: true, hasCheckpoint: true },
      { type: 'resume' },
    ],
    [
      'stopped early (SIGTERM) with a summary',
      { exists: true, sameConfig: true, hasCheckpoint: true, summary: { stoppedEarly: true, stepsDone: 4 } },
      { type: 'resume' },
    ],
    [
      'ended at train.maxSteps',
      {
        exists: true,
        sameConfig: true,
        hasCheckpoint: true,
        summary: { stoppedEarly: true, stepsDone: 4 },
        maxSteps: 4,
      },
      { type: 'evaluate' },
    ],
    [
      'trained, not evaluated',
      { exists: true, sameConfig: true, hasCheckpoint: true, summary: trained },
      { type: 'evaluate' },
    ],
    [
      'trained and evaluated',
      { exists: true, sameConfig: true, hasCheckpoint: true, summary: trained, evaluated: true },
      { type: 'done' },
    ],
    [
      'trained, no evaluation wanted',
      { exists: true, sameConfig: true, hasCheckpoint: true, summary: trained, evaluationWanted: false },
      { type: 'done' },
    ],
    [
      'diverged',
      {
        exists: true,
        sameConfig: true,
        hasCheckpoint: true,
        summary: { ...trained, error: 'peer 1 diverged at step 3' },
      },
      { type: 'failed', reason: 'peer 1 diverged at step 3' },
    ],
  ])('%s', (_what, facts, action) => {
    expect(decideRunAction({ ...fresh, ...facts })).toEqual(action);
  });
});

describe('readRunFacts: a run of the study from its files', () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-run-facts-'));
  const [planned] = planStudy(
    parseExperimentSpec({
      name: 'facts',
      outDir,
      preset: 'quick',
      configurations: [{ label: 'AT', set: { peers: 1 } }],
    }),
  );
  const run = RunDirectory.of(planned.config);

  it('reads nothing as a run to train, its own config as the same run, another config as a conflict', () => {
    expect(readRunFacts(planned.config, undefined)).toMatchObject({ exists: false, hasCheckpoint: false });
    run.writeConfig(planned.config);
    expect(readRunFacts(planned.config, undefined)).toMatchObject({ exists: true, sameConfig: true });
    run.writeConfig({ ...planned.config, seed: 7 });
    expect(readRunFacts(planned.config, undefined).sameConfig).toBe(false);
    run.writeConfig(planned.config);
  });

  it('refuses a damaged summary.json or config.json, naming the file, instead of guessing what the run did', () => {
    fs.writeFileSync(path.join(run.path, 'summary.json'), '{"stepsDone": 4');
    expect(() => readRunFacts(planned.config, undefined)).toThrow(/summary\.json is not valid JSON/);
    expect(() => epochCheckpointDir(run.path, 1)).toThrow(/summary\.json is not valid JSON/);
    fs.writeFileSync(path.join(run.path, 'summary.json'), '{"stepsDone": "four"}');
    expect(() => readRunFacts(planned.config, undefined)).toThrow(/summary\.json/);
    fs.rmSync(path.join(run.path, 'summary.json'));
    expect(() => epochCheckpointDir(run.path, 1)).toThrow(/no summary\.json/);
    fs.writeFileSync(run.configFile, '{"peers": ');
    expect(() => readRunFacts(planned.config, undefined)).toThrow(/config\.json is not valid JSON/);
  });
});

describe('evaluationState: an evaluation file against the weights now on disk', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-eval-state-'));
  const checkpoint = path.join(dir, 'checkpoints', 'step-00000004');
  const file = path.join(dir, 'eval-study.json');
  /** A complete checkpoint of two peers whose files hold `bytes` (the digest reads the files, nothing else). */
  const writeCheckpoint = (bytes: [string, string]) => {
    fs.mkdirSync(checkpoint, { recursive: true });
    bytes.forEach((b, i) => fs.writeFileSync(path.join(checkpoint, `peer-${i}.safetensors`), b));
    const files = ['peer-0.safetensors', 'peer-1.safetensors'];
    fs.writeFileSync(
      path.join(checkpoint, 'manifest.json'),
      JSON.stringify({
        format: 'mat-checkpoint',
        version: '1',
        step: 4,
        peers: 2,
        seed: 1,
        arch: 'x',
        files,
      }),
    );
  };
  const writeEval = (weightsSha256?: string) =>
    fs.writeFileSync(
      file,
      JSON.stringify({
        kind: 'mat-eval',
        version: 1,
        run: 'r',
        checkpoint,
        step: 4,
        models: [],
        weightsSha256,
      }),
    );

  it('checkpointDigest is the sha256 of the peer files in the manifest order', () => {
    writeCheckpoint(['weights of peer 0', 'weights of peer 1']);
    const expected = createHash('sha256').update('weights of peer 0weights of peer 1').digest('hex');
    expect(checkpointDigest(checkpoint)).toBe(expected);
  });

  it('missing, current, stale (other weights), unverified (no digest recorded, or no checkpoint here)', () => {
    writeCheckpoint(['weights of peer 0', 'weights of peer 1']);
    expect(evaluationState(file, checkpoint)).toEqual({ state: 'missing' });
    const digest = checkpointDigest(checkpoint);
    writeEval(digest);
    expect(evaluationState(file, checkpoint)).toEqual({ state: 'current' });
    // The run trained again (from step 0, by other code): one byte of peer 1 differs.
    writeCheckpoint(['weights of peer 0', 'weights of peer 2']);
    expect(evaluationState(file, checkpoint)).toEqual({
      state: 'stale',
      recorded: digest,
      actual: checkpointDigest(checkpoint),
    });
    expect(evaluationState(file, undefined)).toMatchObject({
      state: 'unverified',
      reason: expect.stringMatching(/not on this machine/),
    });
    writeEval(undefined);
    expect(evaluationState(file, checkpoint)).toMatchObject({
      state: 'unverified',
      reason: expect.stringMatching(/before eval files recorded/),
    });
  });

  it('a damaged evaluation file is an error naming it, not a result to keep or to overwrite', () => {
    fs.writeFileSync(file, '{"kind": "mat-eval", ');
    expect(() => evaluationState(file, checkpoint)).toThrow(/eval-study\.json: not a readable JSON file/);
  });
});
