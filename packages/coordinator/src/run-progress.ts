import {
  DEFAULT_PROGRESS_MS,
  evalTableText,
  progressText,
  ProgressThrottle,
  summaryText,
  type EvalEvent,
  type MetricsLine,
  type RunSummary,
} from '@mat/core';

export type ProgressLog = (message: string, fields?: Record<string, unknown>) => void;

/**
 * What the coordinator prints of a run's progress, from the metrics lines LiveMetrics completes: one
 * progress line per interval (not one per stream entry), each evaluation as a table, and the summary at the
 * end. The text is `mat train`'s (core's run/progress.ts); the JSON log form carries the same numbers as
 * fields (`event`: progress, eval, summary).
 */
export class RunProgress {
  private readonly throttle: ProgressThrottle;
  /** Evaluations printed (step:final): the final one arrives from the stream and from the jobs' results. */
  private readonly shown = new Set<string>();

  constructor(
    private readonly log: ProgressLog,
    intervalMs = DEFAULT_PROGRESS_MS,
    now: () => number = Date.now,
  ) {
    this.throttle = new ProgressThrottle(intervalMs, now);
  }

  line(line: MetricsLine): void {
    if (line.type === 'eval') return this.evaluation(line);
    const { type: _type, ...step } = line;
    const due = this.throttle.offer(step);
    if (due) this.log(progressText(due), { event: 'progress', ...due });
  }

  evaluation(e: EvalEvent): void {
    const key = `${e.step}:${e.final}`;
    if (this.shown.has(key)) return;
    this.shown.add(key);
    this.log(evalTableText(e), { event: 'eval', ...e });
  }

  summary(s: RunSummary): void {
    this.log(summaryText(s), { event: 'summary', summary: s });
  }
}
