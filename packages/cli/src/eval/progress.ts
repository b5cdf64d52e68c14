import type { EvalProgress, ModelEvalResult } from '@mat/core';
import type { LogFormat } from '../reporter';

/** What the printer writes to: stdout, or a test's collector. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface EvalProgressOptions {
  format: LogFormat;
  out: ProgressStream;
  /**
   * Lines (text without a terminal, and JSON): at most one per this many milliseconds; 0 = one per finished
   * attack run (attack × batch) instead. A terminal gets a live line regardless.
   */
  intervalMs: number;
  /** Milliseconds; the origin is irrelevant. @defaultValue Date.now */
  now?: () => number;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const num = (v: number) => `${+v.toPrecision(4)}`;

/** 95 → "1m35s", 7 → "7s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Progress of `mat eval`, in both log formats and whether or not stdout is a terminal:
 * - a terminal with text logs: a live line, redrawn at most every 200 ms;
 * - text logs elsewhere: `eval 12/66 (18%) peer 0: PGD-20 linf eps 0.1, batch 2/4; 35s elapsed, ETA 2m40s`
 *   once per interval;
 * - JSON logs: `{"type":"eval-progress", model, task, batch, batches, step, steps, done, total,
 *   elapsedSeconds, etaSeconds}` once per interval;
 * and, in every mode, one line per model when its results are complete (`eval-model` in JSON), with the
 * accuracy and the seconds of each attack.
 */
export class EvalProgressPrinter {
  private readonly now: () => number;
  private readonly started: number;
  private lastLine: number;
  private liveShown = false;

  constructor(private readonly options: EvalProgressOptions) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.lastLine = this.started;
  }

  private get live(): boolean {
    return this.options.format === 'text' && Boolean(this.options.out.isTTY);
  }

  private json(type: string, payload: object): void {
    this.options.out.write(JSON.stringify({ time: new Date().toISOString(), type, ...payload }) + '\n');
  }

  private line(text: string): void {
    this.clear();
    this.options.out.write(text + '\n');
  }

  /** Seconds since the printer was made, and the estimated seconds left (undefined before any run is done). */
  private timing(p: EvalProgress): { elapsed: number; eta?: number } {
    const elapsed = (this.now() - this.started) / 1000;
    return { elapsed, eta: p.done > 0 ? (elapsed / p.done) * (p.total - p.done) : undefined };
  }

  update = (p: EvalProgress): void => {
    const t = this.now();
    if (this.live) {
      if (t - this.lastLine < 200 && p.step !== undefined) return;
      this.lastLine = t;
      const { columns = 120 } = this.options.out;
      this.options.out.write('\r\x1b[2K' + this.describe(p).slice(0, columns - 1));
      this.liveShown = true;
      return;
    }
    const due =
      this.options.intervalMs === 0 ? p.step === undefined : t - this.lastLine >= this.options.intervalMs;
    if (!due) return;
    this.lastLine = t;
    if (this.options.format === 'json') {
      const { elapsed, eta } = this.timing(p);
      this.json('eval-progress', {
        ...p,
        elapsedSeconds: +elapsed.toFixed(1),
        ...(eta !== undefined ? { etaSeconds: +eta.toFixed(1) } : {}),
      });
    } else {
      this.line(this.describe(p));
    }
  };

  private describe(p: EvalProgress): string {
    const { elapsed, eta } = this.timing(p);
    const iter = p.step !== undefined ? ` iter ${p.step}/${p.steps}` : '';
    return (
      `eval ${p.done}/${p.total} (${((100 * p.done) / p.total).toFixed(0)}%) ${p.model}: ${p.task}, ` +
      `batch ${p.batch}/${p.batches}${iter}; ${formatDuration(elapsed)} elapsed` +
      (eta !== undefined ? `, ETA ${formatDuration(eta)}` : '')
    );
  }

  /** One model's results are complete. */
  modelDone = (m: ModelEvalResult): void => {
    if (this.options.format === 'json') {
      this.json('eval-model', {
        model: m.model,
        ...(m.peer !== undefined ? { peer: m.peer } : {}),
        count: m.count,
        cleanAccuracy: m.cleanAccuracy,
        seconds: m.seconds,
        results: m.results.map(({ label, norm, eps, scale, accuracy, seconds }) => ({
          label,
          norm,
          eps,
          scale,
          accuracy,
          seconds,
        })),
        unions: m.unions.map(({ norm, eps, scale, accuracy }) => ({ norm, eps, scale, accuracy })),
      });
      return;
    }
    const attacks = m.results.map(
      (r) => `${r.label} ${r.norm} ${num(r.eps)} ${pct(r.accuracy)} (${formatDuration(r.seconds)})`,
    );
    this.line(
      `${m.model} done in ${formatDuration(m.seconds)}: clean ${pct(m.cleanAccuracy)}, ${attacks.join(', ')}`,
    );
  };

  /** Removes the live line, if one is shown. */
  clear(): void {
    if (this.liveShown) this.options.out.write('\r\x1b[2K');
    this.liveShown = false;
  }
}
