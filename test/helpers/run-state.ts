import type { RunState } from '@mat/exchange';

/** A run state for decision tables: generation 3 running at step 10 of 20, checkpoint at 8, 2 peers. */
export function runState(fields: Partial<RunState> = {}): RunState {
  return {
    status: 'running',
    generation: 3,
    resumeStep: 8,
    lastStep: 20,
    totalSteps: 20,
    step: 10,
    peers: 2,
    checkpointStep: 8,
    runDir: '/runs/r',
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  };
}
