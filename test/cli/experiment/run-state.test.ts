import { decideRunAction, type RunFacts, type RunAction } from '../../../packages/cli/src/experiment';

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
