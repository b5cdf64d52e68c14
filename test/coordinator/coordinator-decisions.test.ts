import type { RunState } from '@mat/exchange';
import { runState } from '../helpers/run-state';
import { decideCoordinator, type RunView } from '../../packages/coordinator/src/coordinator-decisions';

const NOW = 1_000_000;
const policy = {
  stopGraceMs: 60000,
  unreadableGraceMs: 30000,
  stallGraceMs: 600000,
  onDivergence: 'fail' as const,
};

function state(fields: Partial<RunState> = {}): RunState {
  return runState({ updatedAt: NOW - 1000, ...fields });
}

function view(s: RunState | undefined, fields: Partial<RunView> = {}): RunView {
  return {
    state: s,
    held: 2,
    lost: 0,
    slotSteps: [10, 10],
    holderLeaving: false,
    now: NOW,
    progressSince: NOW - 1000,
    slowestStepMs: 2000,
    ...fields,
  };
}

const divergence = { peer: 1, step: 12, generation: 3, reason: 'peer 1 diverged at step 12: its weights …' };

/** Run status × slots × events → what the coordinator does (no Redis, no processes, no wall clock). */
describe('decideCoordinator', () => {
  it.each<[string, RunView, unknown]>([
    ['Redis lost the run', view(undefined), [{ type: 'register' }]],
    [
      'the state is malformed, for less than the grace',
      view(undefined, { unreadable: { reason: 'generation: expected number', since: NOW - 29999 } }),
      [],
    ],
    [
      'the state has been malformed for the grace: registered again from the run directory',
      view(undefined, { unreadable: { reason: 'generation: expected number', since: NOW - 30000 } }),
      [{ type: 'replace-unreadable', reason: 'generation: expected number' }],
    ],
    ['finished', view(state({ status: 'finished' })), [{ type: 'end', status: 'finished' }]],
    ['failed by someone else', view(state({ status: 'failed' })), [{ type: 'end', status: 'failed' }]],
    ['stopped', view(state({ status: 'stopped' })), [{ type: 'end', status: 'stopped' }]],
    ['waiting, a slot free', view(state({ status: 'waiting' }), { held: 1 }), []],
    ['waiting, every slot held', view(state({ status: 'waiting' })), [{ type: 'next-generation' }]],
    ['running, a worker lost', view(state(), { held: 1, slotSteps: [10] }), [{ type: 'wait-for-workers' }]],
    [
      'running, a worker lost and its slot already claimed again by a spare',
      view(state(), { lost: 1 }),
      [{ type: 'wait-for-workers' }],
    ],
    [
      'running, peers at 11 and 12',
      view(state(), { slotSteps: [12, 11] }),
      [{ type: 'record-step', step: 11 }],
    ],
    ['running, nothing new', view(state()), []],
    ['running, a peer before its first step', view(state(), { slotSteps: [-1, 12] }), []],
    [
      'running, a pause committed, the leaver replaced',
      view(state({ pauseAt: 8, checkpointStep: 8 })),
      [{ type: 'next-generation' }],
    ],
    [
      'running, a pause committed, the leaver still there',
      view(state({ pauseAt: 8 }), { holderLeaving: true }),
      [],
    ],
    ['running, a pause not yet committed', view(state({ pauseAt: 12 })), []],
    ['evaluating', view(state({ status: 'evaluating' })), [{ type: 'check-evaluations' }]],
    [
      'divergence of this generation (onDivergence fail)',
      view(state({ divergence })),
      [{ type: 'fail', reason: divergence.reason }],
    ],
    [
      'divergence of an older generation (acted on already)',
      view(state({ divergence: { ...divergence, generation: 2 } })),
      [],
    ],
    [
      'a malformed divergence report',
      view(
        state({
          divergence: { peer: -1, step: -1, generation: -1, reason: 'a malformed divergence report: x' },
        }),
      ),
      [{ type: 'fail', reason: 'a malformed divergence report: x' }],
    ],
  ])('%s', (_, v, actions) => {
    expect(decideCoordinator(v, policy)).toEqual(actions);
  });

  it('onDivergence rollback: rolls back once, fails when the same step diverges again', () => {
    const rollback = { ...policy, onDivergence: 'rollback' as const };
    expect(decideCoordinator(view(state({ divergence })), rollback)).toEqual([
      {
        type: 'rollback',
        divergedAt: 12,
        reason: expect.stringContaining('rolling back to the checkpoint at step 8'),
      },
    ]);
    const again = decideCoordinator(view(state({ divergence, rolledBackFrom: 12 })), rollback);
    expect(again).toEqual([
      { type: 'fail', reason: expect.stringMatching(/diverged again after a rollback from step 12/) },
    ]);
  });

  describe('a stall (every slot held, no step for the grace)', () => {
    const since = (ms: number) => ({ progressSince: NOW - ms });
    const restart = [
      {
        type: 'restart-stalled',
        reason: expect.stringMatching(
          /^no peer got past step 10 for 600 s \(the limit: 600 s, .*\): every peer starts again from the checkpoint at step 8$/,
        ),
      },
    ];
    it.each<[string, RunView, unknown]>([
      ['just short of the grace', view(state(), since(599999)), []],
      ['the grace', view(state(), since(600000)), restart],
      // The limit is at least STALL_STEPS of the slowest peer's last step: slow steps are not stalls.
      ['slow steps (60 s): 20 of them', view(state(), { ...since(1_199_999), slowestStepMs: 60000 }), []],
      [
        'slow steps (60 s), 20 of them passed',
        view(state(), { ...since(1_200_000), slowestStepMs: 60000 }),
        [{ type: 'restart-stalled', reason: expect.stringContaining('the limit: 1200 s') }],
      ],
      [
        'before the first step of the generation',
        view(state(), { ...since(600000), slotSteps: [-1, 10] }),
        [{ type: 'restart-stalled', reason: expect.stringContaining('its first step of generation 3') }],
      ],
      [
        'every peer at the end, waiting for the commit',
        view(state({ step: 20 }), { ...since(9e6), slotSteps: [20, 20] }),
        [],
      ],
      ['every peer at a pause, waiting for the commit', view(state({ pauseAt: 10 }), since(9e6)), []],
      [
        'a stop requested (its own grace forces it)',
        view(state({ stopRequested: true, stopRequestedAt: NOW - 1000 }), since(9e6)),
        [],
      ],
      ['waiting for a worker', view(state({ status: 'waiting' }), { ...since(9e6), held: 1 }), []],
      [
        'again from the same checkpoint: the run fails',
        view(state(), { ...since(600000), stalledFrom: 8 }),
        [
          {
            type: 'fail',
            reason: expect.stringMatching(
              /^the run stalled twice from the checkpoint at step 8: no peer got past step 10/,
            ),
          },
        ],
      ],
      [
        'again, from a newer checkpoint',
        view(state({ checkpointStep: 10 }), { ...since(600000), stalledFrom: 8 }),
        [{ type: 'restart-stalled', reason: expect.stringContaining('checkpoint at step 10') }],
      ],
    ])('%s', (_, v, actions) => {
      expect(decideCoordinator(v, policy)).toEqual(actions);
    });
  });

  describe('stop (mat status --stop)', () => {
    const stop = { stopRequested: true, stopRequestedAt: NOW - 5000 };
    it.each<[string, RunView, unknown]>([
      [
        'while nobody trains (a slot free)',
        view(state({ ...stop, status: 'waiting' }), { held: 1 }),
        [{ type: 'stop', forced: false }],
      ],
      [
        'the pause checkpoint committed',
        view(state({ ...stop, pauseAt: 8 })),
        [{ type: 'stop', forced: false }],
      ],
      ['the peers still on their way to the pause', view(state({ ...stop, pauseAt: 12 })), []],
      // A peer waits for a partner that hangs: nobody reaches a step boundary, so nobody sets a pause.
      ['no pause set, within the grace', view(state(stop)), []],
      [
        'no pause set, past the grace',
        view(state(stop), { now: NOW + 60000 }),
        [{ type: 'stop', forced: true }],
      ],
      [
        'a pause never reached, past the grace',
        view(state({ ...stop, pauseAt: 12 }), { now: NOW + 60000 }),
        [{ type: 'stop', forced: true }],
      ],
      [
        'during the final evaluation (it finishes)',
        view(state({ ...stop, status: 'evaluating' })),
        [{ type: 'check-evaluations' }],
      ],
    ])('%s', (_, v, actions) => {
      expect(decideCoordinator(v, policy)).toEqual(actions);
    });
  });
});
