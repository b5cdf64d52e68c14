import type { RunConfig } from '@mat/core';
import type { RunData } from './run-data';

/**
 * What a report cannot show because the run's files do not have it — the summary, a peer of a step or an
 * evaluation, the final evaluation, epoch evaluations, steps — each said in words, so a reader never takes a
 * chart drawn around a hole for the whole run.
 */
export function findMissing(data: RunData, config: RunConfig): string[] {
  const out: string[] = [];
  const { summary } = data;
  const peers = config.peers;
  if (!summary) {
    out.push(
      'summary.json is missing: the run has not ended, or its process was killed; no times, no final result.',
    );
  } else {
    // A failed run and evaluations not done are in the report's notes (build-report.ts).
    if (!summary.timing || !summary.history)
      out.push('summary.json has no time breakdown or recovery history (written by an older version).');
  }

  const lastStep = summary?.stepsDone ?? data.steps[data.steps.length - 1]?.step ?? 0;
  const have = new Set(data.steps.map((s) => s.step));
  const gaps = ranges([...Array(lastStep).keys()].map((i) => i + 1).filter((s) => !have.has(s)));
  if (gaps.length > 0) out.push(`metrics.jsonl has no line for steps ${gaps.join(', ')}.`);
  const partial = data.steps.filter((s) => s.peers.length < peers);
  if (partial.length > 0)
    out.push(
      `${partial.length} step line(s) lack a peer (first: step ${partial[0].step}, ` +
        `peers ${partial[0].peers.map((p) => p.peer).join(', ') || 'none'} of ${peers}).`,
    );
  for (const e of data.evals)
    if (e.peers.length < peers) {
      const present = new Set(e.peers.map((p) => p.peer));
      const absent = [...Array(peers).keys()].filter((p) => !present.has(p));
      out.push(
        `the ${e.final ? 'final ' : ''}evaluation at step ${e.step} lacks peer(s) ${absent.join(', ')}.`,
      );
    }

  const ended = summary !== undefined && summary.error === undefined;
  if (ended && !data.evals.some((e) => e.final))
    out.push('metrics.jsonl has no final evaluation although the run ended.');
  if (config.eval.everyEpoch && data.steps.length > 0) {
    const evaluated = new Set(data.evals.map((e) => e.step));
    const stepsPerEpoch = summary ? summary.totalSteps / config.train.epochs : undefined;
    if (stepsPerEpoch && Number.isInteger(stepsPerEpoch)) {
      const due: number[] = [];
      for (let s = stepsPerEpoch; s < lastStep; s += stepsPerEpoch) if (!evaluated.has(s)) due.push(s);
      if (due.length > 0)
        out.push(`no epoch evaluation at step(s) ${due.join(', ')} (eval.everyEpoch is on).`);
    }
  }
  return out;
}

/** [1,2,3,7,9,10] -> ['1–3', '7', '9–10']. */
function ranges(values: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    out.push(i === j ? `${values[i]}` : `${values[i]}–${values[j]}`);
    i = j + 1;
  }
  return out;
}
