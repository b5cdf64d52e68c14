import { formatDuration } from '@mat/core';
import type { RunReport } from './build-report';

/** The run's facts as (label, value) rows, the same in report.md and report.html. */
export function runFacts(run: RunReport['run']): string[][] {
  const facts: string[][] = [
    ['data / model', `${run.dataset}, ${run.peers} × ${run.arch}`],
    ['method', run.method],
    ['training perturbations', run.training],
  ];
  if (run.stepsDone !== undefined)
    facts.push(['steps', `${run.stepsDone}${run.totalSteps ? ` of ${run.totalSteps}` : ''}`]);
  const t = run.timing;
  if (t) {
    const rate = run.imagesPerSecond ? ` (${run.imagesPerSecond.toFixed(1)} adversarial images/s)` : '';
    facts.push(['training time', `${formatDuration(t.trainingSeconds)}${rate}`]);
    facts.push(['evaluation time', formatDuration(t.evaluationSeconds)]);
    facts.push(['waiting for workers', formatDuration(t.waitingSeconds)]);
    facts.push(['recovery time', formatDuration(t.recoverySeconds)]);
    facts.push(['wall-clock time', formatDuration(run.seconds ?? 0)]);
  } else if (run.seconds !== undefined) {
    // An older summary: one figure, from the run's start, not split.
    facts.push(['wall-clock time (not split)', `${run.seconds.toFixed(0)} s`]);
  }
  const h = run.history;
  if (h) {
    facts.push(['generations', `${h.generations}`]);
    facts.push(['rollbacks', `${h.rollbacks}`]);
    facts.push(['lost workers', `${h.lostWorkers}`]);
    facts.push(['steps redone', `${h.stepsRedone}`]);
  }
  if (run.backend) facts.push(['backend', run.backend]);
  return facts;
}
