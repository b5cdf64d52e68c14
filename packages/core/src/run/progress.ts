import type { EvalEvent, RunSummary, StepEvent } from './run-records';

/**
 * Progress lines of a run, one formatter for every runtime: `mat train` (any runtime) prints them through
 * its reporter, `mat coordinator` from the step lines LiveMetrics completes. ProgressThrottle picks one
 * line per interval; progressText / evalTableText format for people, the fields are the JSON form.
 */

/** How often a log (not a terminal) or a JSON stream gets a progress line, by default: mat train, mat coordinator. */
export const DEFAULT_PROGRESS_MS = 10000;

/** One progress line: where the run is, each peer's last numbers, its pace. */
export interface ProgressFields {
  step: number;
  totalSteps: number;
  epoch: number;
  lr: number;
  /** Mean seconds per step (of the slowest peer) over the steps since the previous line. */
  secondsPerStep: number;
  /** Remaining steps × secondsPerStep; evaluations not included. */
  etaSeconds: number;
  peers: Array<{ peer: number; loss: number; advAccuracy: number; staleness?: number }>;
}

/** Decides which steps get a line: the first, the last, and one per `intervalMs` in between. */
export class ProgressThrottle {
  private lastShown = -Infinity;
  private stepsSince = 0;
  private secondsSince = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The line for this step, when one is due; the steps not shown still count towards the pace. */
  offer(e: StepEvent): ProgressFields | undefined {
    this.stepsSince++;
    this.secondsSince += e.seconds;
    const now = this.now();
    const due = e.step === 1 || e.step >= e.totalSteps || now - this.lastShown >= this.intervalMs;
    if (!due) return undefined;
    const secondsPerStep = this.secondsSince / this.stepsSince;
    this.lastShown = now;
    this.stepsSince = 0;
    this.secondsSince = 0;
    return progressFields(e, secondsPerStep);
  }
}

export function progressFields(e: StepEvent, secondsPerStep = e.seconds): ProgressFields {
  return {
    step: e.step,
    totalSteps: e.totalSteps,
    epoch: e.epoch,
    lr: e.lr,
    secondsPerStep,
    etaSeconds: Math.max(0, e.totalSteps - e.step) * secondsPerStep,
    peers: e.peers.map((p) => ({
      peer: p.peer,
      loss: p.loss,
      advAccuracy: p.advAccuracy,
      ...(p.staleness !== undefined && { staleness: p.staleness }),
    })),
  };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : String(v));
const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** 75 -> "1m15s", 4000 -> "1h06m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "step 40/200 (20%) ep 1 lr 1.00e-2 | p0 loss 1.234 adv 45.6% | … | 0.31 s/step, ETA 50s". */
export function progressText(p: ProgressFields): string {
  const peers = p.peers
    .map(
      (q) =>
        `p${q.peer} loss ${num(q.loss, 3)} adv ${pct(q.advAccuracy)}` +
        // Bounded staleness: how old the teacher outputs this peer learned from were.
        (q.staleness ? ` stale ${q.staleness}` : ''),
    )
    .join(' | ');
  const done = p.totalSteps > 0 ? Math.floor((100 * p.step) / p.totalSteps) : 0;
  return (
    `step ${p.step}/${p.totalSteps} (${done}%) ep ${p.epoch + 1} lr ${p.lr.toExponential(2)} | ${peers} | ` +
    `${p.secondsPerStep.toFixed(2)} s/step, ETA ${formatDuration(p.etaSeconds)}`
  );
}

/** An evaluation as a small table, one row per peer. */
export function evalTableText(e: EvalEvent): string {
  const title = e.final ? 'final evaluation' : `epoch ${e.epoch + 1} evaluation`;
  const rows = e.peers.map(
    (p) => `  peer ${p.peer}: clean ${pct(p.cleanAccuracy)}  robust ${pct(p.robustAccuracy)}  (n=${p.count})`,
  );
  return `${title} at step ${e.step}:\n${rows.join('\n')}`;
}

/**
 * The end of a run, for people: steps, where the time went, what happened on the way, where the files are
 * (the final evaluation is printed on its own: evalTableText).
 */
export function summaryText(s: RunSummary): string {
  const state = s.error !== undefined ? 'failed' : s.stoppedEarly ? 'stopped' : 'finished';
  const lines = [
    `run ${state}: ${s.stepsDone}/${s.totalSteps} steps in ${formatDuration(s.seconds)} ` +
      `(${s.imagesPerSecond.toFixed(1)} adversarial training images/s of training time, over all peers)`,
  ];
  const t = s.timing;
  if (t)
    lines.push(
      `time: training ${formatDuration(t.trainingSeconds)}, evaluation ${formatDuration(t.evaluationSeconds)}, ` +
        `waiting for workers ${formatDuration(t.waitingSeconds)}, recovery ${formatDuration(t.recoverySeconds)}`,
    );
  const h = s.history;
  if (h && (h.rollbacks > 0 || h.lostWorkers > 0 || h.stepsRedone > 0 || h.generations > 1))
    lines.push(
      `recovery: ${h.generations} generations, ${h.rollbacks} rollbacks, ${h.lostWorkers} lost workers, ` +
        `${h.stepsRedone} steps redone`,
    );
  if (s.error !== undefined) lines.push(`error: ${s.error}`);
  for (const m of s.missingEvaluations ?? [])
    lines.push(`missing evaluation: peer ${m.peer} at step ${m.step}: ${m.reason}`);
  lines.push(`results: ${s.runDir}/summary.json, metrics: ${s.runDir}/metrics.jsonl`);
  return lines.join('\n');
}
