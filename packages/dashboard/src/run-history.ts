import * as fs from 'fs';
import * as path from 'path';
import type { StreamMetricsEntry } from './metrics-entry';

/**
 * A run's history from its run directory's metrics.jsonl (the coordinator keeps it current), for when Redis
 * does not have it: Redis restarted without persistence forgets every run, and the coordinator registers
 * its run again with a new, empty metrics stream. The lines become the page's step and eval entries (one
 * per peer), so the page draws the curves as it would from the stream, with a note saying where they came
 * from.
 */
export interface RunHistory {
  /** The file read. */
  file: string;
  /** For the page: where the curves come from. */
  note: string;
  entries: StreamMetricsEntry[];
}

interface Line {
  type?: unknown;
  step?: unknown;
  lr?: unknown;
  seconds?: unknown;
  final?: unknown;
  peers?: unknown;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const index = (v: unknown): number | null =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;

/** Where a run's metrics.jsonl is: in the run directory Redis named, else under `runsDir`. */
export function metricsFileOf(
  runId: string,
  opts: { runDir?: string | null; runsDir?: string },
): string | null {
  const dirs = [opts.runDir, opts.runsDir && path.join(opts.runsDir, runId)].filter(
    (d): d is string => typeof d === 'string' && d !== '',
  );
  for (const dir of dirs) {
    const file = path.join(dir, 'metrics.jsonl');
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** The step and eval lines of a metrics.jsonl as per-peer entries; a line that is not JSON is skipped. */
export function readRunHistory(file: string, reason: string): RunHistory {
  const entries: StreamMetricsEntry[] = [];
  const time = fs.statSync(file).mtimeMs;
  let n = 0;
  for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      continue; // a line cut short by a killed writer
    }
    const step = index(line.step);
    if (step === null || !Array.isArray(line.peers)) continue;
    for (const p of line.peers as Array<Record<string, unknown>>) {
      const peer = index(p?.peer);
      if (peer === null) continue;
      const id = `0-${++n}`;
      if (line.type === 'step')
        entries.push({
          id,
          time,
          type: 'step',
          peer,
          step,
          loss: num(p.loss),
          base: num(p.base),
          distill: num(p.distill),
          advAccuracy: num(p.advAccuracy),
          lr: num(line.lr),
          stepSeconds: num(line.seconds),
          exchangeSeconds: num(p.exchangeSeconds),
        });
      else if (line.type === 'eval')
        entries.push({
          id,
          time,
          type: 'eval',
          peer,
          step,
          count: num(p.count),
          cleanAccuracy: num(p.cleanAccuracy),
          robustAccuracy: num(p.robustAccuracy),
        });
    }
  }
  return { file, note: `${reason}: the curves before it come from ${file}`, entries };
}
