import { formatDuration } from '@mat/core';
import type { RunState, SlotLease, WorkerRecord } from '@mat/exchange';
import { formatMetric } from '../format-metric';

/** What `mat status <run>` read from Redis. */
export interface RunView {
  id: string;
  state: RunState;
  slots: Map<number, SlotLease>;
  workers: WorkerRecord[];
  /** Each peer's newest step entry of the metrics stream. */
  latest: Map<number, Record<string, unknown>>;
  /** The reader's clock (ms epoch). */
  now: number;
}

const ENDED = new Set(['finished', 'stopped', 'failed']);

/**
 * The step the run is at: the slowest peer's, from the slots the workers keep current — not the state's
 * `step`, which only the coordinator writes and which stays where it was while no coordinator runs.
 */
export function currentStep(view: RunView): number {
  const { state, slots } = view;
  if (state.status !== 'running') return state.step;
  const steps = [...slots.values()].map((s) => s.step).filter((s) => s >= 0);
  return steps.length === state.peers ? Math.max(state.step, Math.min(...steps)) : state.step;
}

/** A lease as people read it: time left, or how long ago it ran out (never a negative duration). */
export function describeLease(leaseUntil: number, now: number): string {
  const left = (leaseUntil - now) / 1000;
  return left >= 0 ? `lease ${left.toFixed(1)} s left` : `lease ran out ${formatDuration(-left)} ago`;
}

/** The lines of `mat status <run>`. */
export function statusLines(view: RunView): string[] {
  const { state, slots, workers, latest, now } = view;
  const ended = ENDED.has(state.status);
  const out = runStateLines(view);
  for (let peer = 0; peer < state.peers; peer++) {
    const s = slots.get(peer);
    const m = latest.get(peer);
    let holder: string;
    if (!s) holder = ended ? 'no worker (the run has ended)' : 'free';
    else if (ended) holder = `last held by ${s.workerId} at step ${s.step} (the run has ended)`;
    else holder = `${s.workerId}, ${describeLease(s.leaseUntil, now)}, step ${s.step}`;
    const metrics = m
      ? ` | loss ${formatMetric(m.loss, 3)} adv ${formatMetric(m.advAccuracy, 1, 100)}% ` +
        `${formatMetric(m.stepSeconds, 2)} s/step (exchange ${formatMetric(m.exchangeSeconds, 3)} s)`
      : '';
    out.push(`  peer ${peer}: ${holder}${metrics}`);
  }
  for (const w of workers) {
    const age = w.lastHeartbeat ? `${formatDuration((now - w.lastHeartbeat) / 1000)} ago` : 'never';
    const gpu = w.gpu === undefined ? '' : `, CUDA_VISIBLE_DEVICES=${w.gpu}`;
    const role = w.peer === null ? 'spare' : `peer ${w.peer}`;
    out.push(
      `  worker ${w.workerId} (${w.host} pid ${w.pid}, ${w.backend}${gpu}): ${role}, ${w.status}, heartbeat ${age}`,
    );
  }
  return out;
}

/** The run's own lines: status, step, checkpoint, a pending pause or stop, a divergence, a rollback, an error. */
function runStateLines(view: RunView): string[] {
  const { state, now } = view;
  const ended = ENDED.has(state.status);
  const step = currentStep(view);
  const lines = [
    `run ${view.id}: ${state.status}, step ${step}/${state.lastStep}, generation ${state.generation}`,
  ];
  if (state.status === 'running' && step !== state.step) {
    // The coordinator records the step on each look at the run; it has not for a while (is it running?).
    lines.push(
      `  (the coordinator last recorded step ${state.step}, ${formatDuration((now - state.updatedAt) / 1000)} ago: ` +
        'is it running? the step above is from the workers)',
    );
  }
  lines.push(`  checkpoint: step ${state.checkpointStep} in ${state.runDir}`);
  if (state.pauseAt !== undefined && !ended)
    lines.push(`  pausing at step ${state.pauseAt}${state.stopRequested ? ' (stop)' : ''}`);
  if (state.stopRequested && state.stopRequestedAt !== undefined && !ended)
    lines.push(`  stop requested ${formatDuration((now - state.stopRequestedAt) / 1000)} ago`);
  const d = state.divergence;
  if (d) {
    lines.push(
      `  ${describeDivergence(d)}: ${d.reason}` +
        (ended ? '' : ' (reported; the coordinator has not acted on it yet)'),
    );
  }
  if (state.rolledBackFrom !== undefined)
    lines.push(`  rolled back to the last checkpoint after a divergence at step ${state.rolledBackFrom}`);
  if (state.error) lines.push(`  error: ${state.error}`);
  return lines;
}

export function describeDivergence(d: NonNullable<RunState['divergence']>): string {
  const who = d.peer < 0 ? 'an unknown peer' : `peer ${d.peer}`;
  const at = d.step < 0 ? '' : ` at step ${d.step}`;
  return `divergence: ${who}${at}${d.generation >= 0 ? ` (generation ${d.generation})` : ''}`;
}
