import type { RunState } from '@mat/exchange';
import { runState } from '../helpers/run-state';
import {
  decideAtBoundary,
  decideDuringStep,
  decideWorker,
  slotClaimEvent,
  type StepWatchView,
  type WorkerSelf,
} from '../../packages/worker/src/redis/worker-decisions';

const state = runState;

const spare: WorkerSelf = {
  peer: undefined,
  slotLost: false,
  leaving: false,
  trainedGeneration: -1,
  doneGeneration: -1,
  pausedAt: undefined,
  servesAfterSteps: false,
};
const holder: WorkerSelf = { ...spare, peer: 1, trainedGeneration: 3 };

/** Run status × this worker's slot and generation × events → what the worker does next. */
describe('decideWorker', () => {
  it.each<[string, RunState | undefined, WorkerSelf, unknown]>([
    ['the run finished', state({ status: 'finished' }), holder, { type: 'exit', outcome: 'finished' }],
    [
      'the run failed (a peer diverged)',
      state({ status: 'failed' }),
      holder,
      { type: 'exit', outcome: 'failed' },
    ],
    ['the run stopped', state({ status: 'stopped' }), spare, { type: 'exit', outcome: 'stopped' }],
    ['the slot was lost', state(), { ...holder, slotLost: true }, { type: 'drop-slot' }],
    ['Redis lost the run, holding a slot', undefined, holder, { type: 'drop-slot' }],
    ['Redis lost the run, a spare', undefined, spare, { type: 'idle' }],
    ['a spare', state(), spare, { type: 'claim' }],
    ['a spare asked to leave', state(), { ...spare, leaving: true }, { type: 'exit', outcome: 'left' }],
    ['holding a slot, generation running', state(), holder, { type: 'train' }],
    ['holding a slot, waiting for workers', state({ status: 'waiting' }), holder, { type: 'idle' }],
    ['this generation done', state(), { ...holder, doneGeneration: 3, pausedAt: 12 }, { type: 'idle' }],
    ['this peer diverged in this generation', state(), { ...holder, doneGeneration: 3 }, { type: 'idle' }],
    [
      'new to a generation that is pausing',
      state({ pauseAt: 12 }),
      { ...holder, trainedGeneration: 2 },
      { type: 'idle' },
    ],
    [
      'bounded staleness: done, slower peers short of the checkpoint',
      state({ checkpointStep: 8 }),
      { ...holder, doneGeneration: 3, pausedAt: 12, servesAfterSteps: true },
      { type: 'serve' },
    ],
    [
      'bounded staleness: done, the checkpoint committed',
      state({ checkpointStep: 12 }),
      { ...holder, doneGeneration: 3, pausedAt: 12, servesAfterSteps: true },
      { type: 'idle' },
    ],
    [
      'leaving after its pause',
      state(),
      { ...holder, leaving: true, doneGeneration: 3, pausedAt: 12 },
      { type: 'hand-back' },
    ],
  ])('%s', (_, s, self, action) => {
    expect(decideWorker(s, self)).toEqual(action);
  });
});

describe('decideDuringStep (a step waiting for its peers)', () => {
  const base: Omit<StepWatchView, 'state'> = {
    generation: 3,
    holdsSlot: true,
    done: 10,
    leavingSince: undefined,
    now: 50_000,
    leaveGraceMs: 30000,
  };
  it.each<[string, Partial<typeof base> & { state: RunState | undefined }, string]>([
    ['nothing changed', { state: state() }, 'continue'],
    ['a new generation', { state: state({ generation: 4 }) }, 'abort-generation'],
    ['the run failed', { state: state({ status: 'failed' }) }, 'abort-generation'],
    ['the run is gone', { state: undefined }, 'abort-generation'],
    ['the slot is lost', { state: state(), holdsSlot: false }, 'abort-generation'],
    [
      'another peer diverged in this generation',
      { state: state({ divergence: { peer: 0, step: 11, generation: 3, reason: 'r' } }) },
      'abort-generation',
    ],
    ['a pause at the steps done', { state: state({ pauseAt: 10 }) }, 'abort-pause'],
    ['a pause further on', { state: state({ pauseAt: 11 }) }, 'continue'],
    ['leaving, within the grace', { state: state(), leavingSince: 40_000 }, 'continue'],
    ['leaving, past the grace (a partner hangs)', { state: state(), leavingSince: 10_000 }, 'abort-leave'],
  ])('%s', (_, v, type) => {
    expect(decideDuringStep({ ...base, ...v }).type).toBe(type);
  });
});

describe('decideAtBoundary (between two steps)', () => {
  const base = { generation: 3, holdsSlot: true, done: 10, leaving: false, maxStaleness: 0 };
  it.each<[string, Partial<typeof base> & { state: RunState | undefined }, unknown]>([
    ['go on', { state: state() }, { type: 'continue' }],
    ['generation over', { state: state({ generation: 4 }) }, { type: 'end-generation' }],
    ['leaving: pause every peer here', { state: state(), leaving: true }, { type: 'request-pause', at: 10 }],
    [
      'a stop asked for: pause here',
      { state: state({ stopRequested: true }) },
      { type: 'request-pause', at: 10 },
    ],
    [
      'leaving with bounded staleness 2: beyond the furthest peer',
      { state: state(), leaving: true, maxStaleness: 2 },
      { type: 'request-pause', at: 13 },
    ],
    ['at the pause', { state: state({ pauseAt: 10 }) }, { type: 'pause-here' }],
    ['before the pause', { state: state({ pauseAt: 12 }) }, { type: 'continue' }],
  ])('%s', (_, v, action) => {
    expect(decideAtBoundary({ ...base, ...v })).toEqual(action);
  });
});

describe('slotClaimEvent', () => {
  it('the first holder of a new run claims its slot; after a generation has started it takes the slot over', () => {
    expect(slotClaimEvent({ generation: 0 })).toBe('claimed');
    expect(slotClaimEvent({ generation: 1 })).toBe('took-over');
    expect(slotClaimEvent({ generation: 7 })).toBe('took-over');
  });
});
