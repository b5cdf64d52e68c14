import * as fs from 'fs';
import * as path from 'path';
import {
  writeFileAtomic,
  type EvalEvent,
  type EvalResult,
  type PeerStepMetrics,
  type StepEvent,
} from '@mat/core';
import type { RunStore } from '@mat/exchange';

/** One line of metrics.jsonl, as `mat train` writes it. */
export type MetricsLine = ({ type: 'step' } & StepEvent) | ({ type: 'eval' } & EvalEvent);

/** What the coordinator knows of the run to turn per-peer entries into whole-step lines. */
export interface RunShape {
  peers: number;
  stepsPerEpoch: number;
  lastStep: number;
}

/** A step that some peers have reported so far, all in one generation. */
interface PendingStep {
  generation: number;
  lr: number;
  seconds: number;
  peers: Map<number, PeerStepMetrics>;
}

type PeerEval = EvalResult & { peer: number };

/** Stream entries read per XRANGE call. */
const READ_BATCH = 1000;

/**
 * runDir/metrics.jsonl of a distributed run, kept current while it runs (as `mat train` appends to it):
 * the coordinator reads the run's metrics stream from the last entry it saw (poll(), once per tick) and
 * appends a `step` line once every peer has reported that step, and an `eval` line once every peer's
 * evaluation is in. A rollback makes a new generation re-take steps: they are appended again, and readers
 * (mat report) let the last line of a step win. finish() rewrites the file clean at the end: one line per
 * step and per evaluation, in step order.
 */
export class LiveMetrics {
  readonly file: string;
  private cursor = '0-0';
  /** The newest generation seen; entries written without one belong to it. */
  private generation = 0;
  /** Generation -> the step all its peers started from (the stream's `generation` events). */
  private readonly resumedFrom = new Map<number, number>();
  private readonly steps = new Map<number, PendingStep>();
  private readonly evals = new Map<string, Map<number, PeerEval>>();
  private finished = false;

  constructor(
    private readonly store: RunStore,
    runDir: string,
    private readonly shape: RunShape,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.file = path.join(runDir, 'metrics.jsonl');
  }

  /**
   * Starts keeping the file. A new run (`fresh`) starts it empty, with the stream entries to come. Else
   * what the file holds is kept, the whole stream is read again (a restarted coordinator misses nothing
   * that happened while none was running) and the file is rewritten clean — which also drops a partial
   * last line left by a coordinator killed while appending.
   */
  async open(opts: { fresh: boolean }): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    if (opts.fresh) {
      const newest = await this.store.redis.xrevrange(this.store.keys.metrics, '+', '-', 'COUNT', 1);
      this.cursor = newest[0]?.[0] ?? '0-0';
      writeAtomically(this.file, []);
      return;
    }
    const kept = this.readFile();
    writeAtomically(this.file, compactLines([...kept, ...(await this.read())]));
  }

  /** Appends the lines that the stream entries since the last poll complete. */
  async poll(): Promise<number> {
    if (this.finished) return 0;
    const lines = await this.read();
    if (lines.length > 0) fs.appendFileSync(this.file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    return lines.length;
  }

  /** Redis lost the run, and its stream with it: read the new stream from its start. */
  rewind(): void {
    this.cursor = '0-0';
    this.generation = 0;
    this.resumedFrom.clear();
    this.steps.clear();
    this.evals.clear();
  }

  /**
   * The end of the run: the last entries, then the file rewritten clean, with `final` (the evaluation
   * jobs' results) as the final evaluation line. Nothing is appended afterwards.
   */
  async finish(final?: EvalEvent): Promise<void> {
    await this.poll();
    const lines = this.readFile();
    if (final) lines.push({ type: 'eval', ...final });
    writeAtomically(this.file, compactLines(lines));
    this.finished = true;
  }

  /** The stream entries after the cursor, as the metrics lines they complete. */
  private async read(): Promise<MetricsLine[]> {
    const out: MetricsLine[] = [];
    for (;;) {
      const rows = await this.store.redis.xrange(
        this.store.keys.metrics,
        `(${this.cursor}`,
        '+',
        'COUNT',
        READ_BATCH,
      );
      for (const [id, fields] of rows) {
        this.cursor = id;
        const entry = parseEntry(fields);
        const line = entry && this.take(entry);
        if (line) out.push(line);
      }
      if (rows.length < READ_BATCH) return out;
    }
  }

  /** Adds one stream entry; returns the line it completes, if any. */
  private take(m: Record<string, unknown>): MetricsLine | undefined {
    if (m.type === 'run' && m.event === 'generation') {
      this.startGeneration(Number(m.generation) || 0, Number(m.step) || 0);
    } else if (m.type === 'step') {
      return this.takeStep(m);
    } else if (m.type === 'eval') {
      return this.takeEval(m);
    }
    return undefined;
  }

  /** Every peer restarts from step `from`: what older generations did after it is abandoned. */
  private startGeneration(generation: number, from: number): void {
    this.generation = Math.max(this.generation, generation);
    this.resumedFrom.set(generation, from);
    for (const [step, pending] of this.steps)
      if (step > from && pending.generation < generation) this.steps.delete(step);
  }

  /** A step of an older generation that a later one re-takes (it restarted from an earlier step). */
  private abandoned(generation: number, step: number): boolean {
    for (const [g, from] of this.resumedFrom) if (g > generation && step > from) return true;
    return false;
  }

  private takeStep(m: Record<string, unknown>): MetricsLine | undefined {
    const step = Number(m.step);
    const generation = m.generation === undefined ? this.generation : Number(m.generation);
    this.generation = Math.max(this.generation, generation);
    // Late news (a worker's entry written as the rollback happened): that step is being taken again.
    if (this.abandoned(generation, step)) return undefined;
    let pending = this.steps.get(step);
    if (pending && pending.generation > generation) return undefined;
    if (!pending || pending.generation < generation) {
      pending = { generation, lr: Number(m.lr), seconds: 0, peers: new Map() };
      this.steps.set(step, pending);
    }
    const peer = Number(m.peer);
    pending.peers.set(peer, {
      peer,
      loss: Number(m.loss),
      base: Number(m.base),
      distill: Number(m.distill),
      advAccuracy: Number(m.advAccuracy),
      // Bounded staleness (train.maxStaleness > 0): how old the teacher outputs of this step were.
      ...(m.staleness !== undefined ? { staleness: Number(m.staleness) } : {}),
    });
    // The step took as long as its slowest peer.
    pending.seconds = Math.max(pending.seconds, Number(m.stepSeconds) || 0);
    if (pending.peers.size < this.shape.peers) return undefined;
    this.steps.delete(step);
    return {
      type: 'step',
      step,
      totalSteps: this.shape.lastStep,
      epoch: this.epochOf(step),
      lr: pending.lr,
      seconds: pending.seconds,
      peers: [...pending.peers.values()].sort((a, b) => a.peer - b.peer),
    };
  }

  private takeEval(m: Record<string, unknown>): MetricsLine | undefined {
    const step = Number(m.step);
    const final = m.final === true;
    const key = `${step}:${final}`;
    const peers = this.evals.get(key) ?? new Map<number, PeerEval>();
    this.evals.set(key, peers);
    const peer = Number(m.peer);
    peers.set(peer, {
      peer,
      count: Number(m.count),
      cleanAccuracy: Number(m.cleanAccuracy),
      robustAccuracy: Number(m.robustAccuracy),
    });
    if (peers.size < this.shape.peers) return undefined;
    this.evals.delete(key);
    return {
      type: 'eval',
      step,
      epoch: this.epochOf(step),
      final,
      peers: [...peers.values()].sort((a, b) => a.peer - b.peer),
    };
  }

  /** The epoch a step belongs to, as `mat train` counts it (step 1 is the first of epoch 0). */
  private epochOf(step: number): number {
    return Math.floor((step - 1) / this.shape.stepsPerEpoch);
  }

  /** The file's lines; a line that is not JSON (a write cut short) is dropped, with a note. */
  private readFile(): MetricsLine[] {
    if (!fs.existsSync(this.file)) return [];
    const out: MetricsLine[] = [];
    for (const text of fs.readFileSync(this.file, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      try {
        out.push(JSON.parse(text) as MetricsLine);
      } catch {
        this.log(`metrics.jsonl: dropped a line that is not JSON (${text.slice(0, 60)}…)`);
      }
    }
    return out;
  }
}

/** One line per step and per evaluation (the last one given wins), in step order. */
export function compactLines(lines: MetricsLine[]): MetricsLine[] {
  const latest = new Map<string, MetricsLine>();
  for (const line of lines) {
    const key = line.type === 'eval' ? `eval:${line.step}:${line.final}` : `${line.type}:${line.step}`;
    latest.set(key, line);
  }
  // A step's line first, then its evaluation, the final one last.
  const rank = (l: MetricsLine) => (l.type === 'step' ? 0 : l.final ? 2 : 1);
  return [...latest.values()].sort((a, b) => a.step - b.step || rank(a) - rank(b));
}

function parseEntry(fields: string[]): Record<string, unknown> | undefined {
  const at = fields.indexOf('m');
  if (at < 0) return undefined;
  try {
    return JSON.parse(fields[at + 1]) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A reader sees the old file or the new one, never half of one. */
function writeAtomically(file: string, lines: MetricsLine[]): void {
  writeFileAtomic(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
}
