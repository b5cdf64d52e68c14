import type { EvalEvent, RunSummary, StepEvent } from '@mat/core';

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

export function createReporter(format: LogFormat, stream: NodeJS.WriteStream = process.stdout): Reporter {
  return format === 'json' ? new JsonReporter(stream) : new TextReporter(stream);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

class JsonReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream) {}
  private write(type: string, payload: object): void {
    this.out.write(JSON.stringify({ time: new Date().toISOString(), type, ...payload }) + '\n');
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.write('info', { message, ...fields });
  }
  step(e: StepEvent): void {
    this.write('step', e);
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
  private lastPrinted = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

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
    const width = 24;
    const filled = Math.round((width * e.step) / e.totalSteps);
    const losses = e.peers
      .map((p) => {
        // Bounded-staleness runs report how old the teacher outputs a peer learned from were.
        const stale = (p as { staleness?: number }).staleness;
        return `p${p.peer} loss ${p.loss.toFixed(3)} adv ${pct(p.advAccuracy)}${stale ? ` stale ${stale}` : ''}`;
      })
      .join(' | ');
    const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${e.step}/${e.totalSteps} ep ${e.epoch + 1} lr ${e.lr.toExponential(2)} ${e.seconds.toFixed(2)}s/step | ${losses}`;
    if (this.tty) {
      this.bar(text);
    } else if (e.step === e.totalSteps || Date.now() - this.lastPrinted > 10000 || e.step === 1) {
      this.lastPrinted = Date.now();
      this.line(text);
    }
  }

  evalProgress(peer: number, done: number, total: number): void {
    this.bar(`evaluating peer ${peer}: ${done}/${total} test images`);
  }

  eval(e: EvalEvent): void {
    const title = e.final ? 'final evaluation' : `epoch ${e.epoch + 1} evaluation`;
    const rows = e.peers.map(
      (p) =>
        `  peer ${p.peer}: clean ${pct(p.cleanAccuracy)}  robust ${pct(p.robustAccuracy)}  (n=${p.count})`,
    );
    this.line(`${title} at step ${e.step}:\n${rows.join('\n')}`);
  }

  checkpoint(e: { step: number; dir: string }): void {
    this.line(`checkpoint at step ${e.step}: ${e.dir}`);
  }

  summary(s: RunSummary): void {
    const lines = [
      '',
      `run ${s.stoppedEarly ? 'stopped' : 'finished'}: ${s.stepsDone}/${s.totalSteps} steps in ${s.seconds.toFixed(0)} s (${s.imagesPerSecond.toFixed(1)} adversarial training images/s over all peers)`,
      `results: ${s.runDir}/summary.json, metrics: ${s.runDir}/metrics.jsonl`,
    ];
    this.line(lines.join('\n'));
  }
}
