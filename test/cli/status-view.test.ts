import type { RunState, SlotLease, WorkerRecord } from '@mat/exchange';
import { describeLease, statusLines, type RunView } from '../../packages/cli/src/commands/status-view';

const NOW = 1_800_000_000_000;

function view(
  state: Partial<RunState>,
  slots: Array<[number, SlotLease]>,
  workers: WorkerRecord[] = [],
): RunView {
  return {
    id: 'r1',
    state: {
      status: 'running',
      generation: 1,
      resumeStep: 0,
      lastStep: 100,
      totalSteps: 100,
      step: 10,
      peers: 2,
      checkpointStep: 0,
      runDir: '/runs/r1',
      createdAt: NOW - 60000,
      updatedAt: NOW - 500,
      ...state,
    },
    slots: new Map(slots),
    workers,
    latest: new Map(),
    now: NOW,
  };
}

const lease = (workerId: string, step: number, leaseUntil: number): SlotLease => ({
  workerId,
  step,
  leaseUntil,
  status: 'training',
});

describe('mat status of one run', () => {
  it('a running run: each lease with the time it has left', () => {
    const lines = statusLines(
      view({}, [
        [0, lease('w0', 10, NOW + 4200)],
        [1, lease('w1', 10, NOW + 3000)],
      ]),
    );
    expect(lines[0]).toBe('run r1: running, step 10/100, generation 1');
    expect(lines).toContain('  peer 0: w0, lease 4.2 s left, step 10');
  });

  it('after the run ended: no leases counted down into negative numbers, the last holder instead', () => {
    const lines = statusLines(
      view({ status: 'finished', step: 100, updatedAt: NOW - 3_600_000 }, [
        [0, lease('w0', 100, NOW - 3_590_000)],
      ]),
    );
    expect(lines.join('\n')).not.toMatch(/-\d/);
    expect(lines).toContain('  peer 0: last held by w0 at step 100 (the run has ended)');
    expect(lines).toContain('  peer 1: no worker (the run has ended)');
  });

  it('a lease that ran out before the coordinator saw it says how long ago', () => {
    expect(describeLease(NOW - 12_000, NOW)).toBe('lease ran out 12s ago');
    expect(describeLease(NOW + 1500, NOW)).toBe('lease 1.5 s left');
  });

  it('the coordinator is down: the step comes from the workers, and the stale record is pointed out', () => {
    const lines = statusLines(
      view({ step: 10, updatedAt: NOW - 95_000 }, [
        [0, lease('w0', 42, NOW + 4000)],
        [1, lease('w1', 41, NOW + 4000)],
      ]),
    );
    expect(lines[0]).toBe('run r1: running, step 41/100, generation 1');
    expect(lines[1]).toMatch(/the coordinator last recorded step 10, 1m35s ago: is it running\?/);
  });
});
