import {
  DEFAULT_PROGRESS_MS,
  evalTableText,
  progressFields,
  progressText,
  ProgressThrottle,
  summaryText,
  type EvalEvent,
  type RunSummary,
  type StepEvent,
} from '@mat/core';

/** Where the CLI's progress goes: a human-readable console (with a live bar on a TTY) or JSON lines. */
export interface Reporter {
  info(message: string, fields?: Record<string, unknown>): void;
  step(e: StepEvent): void;
  evalProgress(peer: number, done: number, total: number): void;
  eval(e: EvalEvent): void;
  checkpoint(e: { step: number; dir: string }): void;
  summary(s: RunSummary): void;
}

export type LogFormat = 'text' | 'json';

/**
 * `progressMs`: without a terminal (a log file, CI, JSON lines), one progress line per this interval (and the
 * first and last steps), with the pace over the steps since the last one; 0 prints every step.
 */
export function createReporter(
  format: LogFormat,
  stream: NodeJS.WriteStream = process.stdout,
  progressMs = DEFAULT_PROGRESS_MS,
): Reporter {
  return format === 'json' ? new JsonReporter(stream, progressMs) : new TextReporter(stream, progressMs);
}

/** JSON lines: `progress` carries the coordinator's progress fields (core's ProgressFields), one per interval. */
class JsonReporter implements Reporter {
  private readonly throttle: ProgressThrottle;
  constructor(
    private readonly out: NodeJS.WritableStream,
    progressMs: number,
  ) {
    this.throttle = new ProgressThrottle(progressMs);
  }
  private write(type: string, payload: object): void {
    this.out.write(JSON.stringify({ time: new Date().toISOString(), type, ...payload }) + '\n');
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.write('info', { message, ...fields });
  }
  step(e: StepEvent): void {
    const due = this.throttle.offer(e);
    if (due) this.write('progress', due);
  }
  evalProgress(): void {}
  eval(e: EvalEvent): void {
    this.write('eval', e);
  }
  checkpoint(e: { step: number; dir: string }): void {
    this.write('checkpoint', e);
  }
  summary(s: RunSummary): void {
    this.write('summary', s);
  }
}

class TextReporter implements Reporter {
  private barShown = false;
  private readonly throttle: ProgressThrottle;
  constructor(
    private readonly out: NodeJS.WriteStream,
    progressMs: number,
  ) {
    this.throttle = new ProgressThrottle(progressMs);
  }

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  private line(text: string): void {
    if (this.barShown) this.out.write('\r\x1b[2K');
    this.barShown = false;
    this.out.write(text + '\n');
  }

  private bar(text: string): void {
    if (this.tty) {
      this.out.write('\r\x1b[2K' + text.slice(0, (this.out.columns ?? 120) - 1));
      this.barShown = true;
    }
  }

  info(message: string): void {
    this.line(message);
  }

  step(e: StepEvent): void {
    const due = this.throttle.offer(e);
    if (!this.tty) {
      if (due) this.line(progressText(due));
      return;
    }
    const width = 24;
    const filled = Math.round((width * e.step) / e.totalSteps);
    this.bar(
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progressText(due ?? progressFields(e))}`,
    );
  }

  evalProgress(peer: number, done: number, total: number): void {
    this.bar(`evaluating peer ${peer}: ${done}/${total} test images`);
  }

  eval(e: EvalEvent): void {
    this.line(evalTableText(e));
  }

  checkpoint(e: { step: number; dir: string }): void {
    this.line(`checkpoint at step ${e.step}: ${e.dir}`);
  }

  summary(s: RunSummary): void {
    this.line('\n' + summaryText(s));
  }
}
