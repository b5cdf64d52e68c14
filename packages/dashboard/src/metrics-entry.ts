/**
 * The entries of a run's metrics stream (`runKeys(id).metrics`, field `m` = JSON), as the workers write
 * them (see @mat/exchange redis-keys.ts). Parsing is strict about the identifying fields (type, peer, step)
 * and lenient about the measurements: a measurement that is missing or not a finite number becomes null,
 * so one odd value does not hide the rest of the entry; an entry that cannot be placed is skipped.
 */

export interface StepMetrics {
  type: 'step';
  peer: number;
  step: number;
  loss: number | null;
  base: number | null;
  distill: number | null;
  advAccuracy: number | null;
  lr: number | null;
  stepSeconds: number | null;
  exchangeSeconds: number | null;
}

export interface EvalMetrics {
  type: 'eval';
  peer: number;
  step: number;
  cleanAccuracy: number | null;
  robustAccuracy: number | null;
  count: number | null;
}

export const WORKER_EVENTS = ['joined', 'left', 'lost', 'took-over'] as const;

export interface WorkerEvent {
  type: 'worker';
  workerId: string;
  event: (typeof WORKER_EVENTS)[number];
  peer: number | null;
}

export type MetricsEntry = StepMetrics | EvalMetrics | WorkerEvent;

/** One stream entry as the API returns it: its stream id, its time (ms epoch, from the id) and the entry. */
export type StreamMetricsEntry = MetricsEntry & { id: string; time: number };

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Parses the JSON text of field `m`; returns null (never throws) when the entry is not one of the kinds. */
export function parseMetricsEntry(text: string): MetricsEntry | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  switch (r.type) {
    case 'step':
      if (!isIndex(r.peer) || !isIndex(r.step)) return null;
      return {
        type: 'step',
        peer: r.peer,
        step: r.step,
        loss: finiteOrNull(r.loss),
        base: finiteOrNull(r.base),
        distill: finiteOrNull(r.distill),
        advAccuracy: finiteOrNull(r.advAccuracy),
        lr: finiteOrNull(r.lr),
        stepSeconds: finiteOrNull(r.stepSeconds),
        exchangeSeconds: finiteOrNull(r.exchangeSeconds),
      };
    case 'eval':
      if (!isIndex(r.peer) || !isIndex(r.step)) return null;
      return {
        type: 'eval',
        peer: r.peer,
        step: r.step,
        cleanAccuracy: finiteOrNull(r.cleanAccuracy),
        robustAccuracy: finiteOrNull(r.robustAccuracy),
        count: finiteOrNull(r.count),
      };
    case 'worker':
      if (typeof r.workerId !== 'string' || r.workerId.length === 0) return null;
      if (!WORKER_EVENTS.includes(r.event as WorkerEvent['event'])) return null;
      return {
        type: 'worker',
        workerId: r.workerId,
        event: r.event as WorkerEvent['event'],
        peer: isIndex(r.peer) ? r.peer : null,
      };
    default:
      return null;
  }
}

/** Turns XRANGE's `[id, [field, value, ...]]` rows into entries; counts the rows that were skipped. */
export function parseStreamRows(rows: Array<[string, string[]]>): {
  entries: StreamMetricsEntry[];
  skipped: number;
} {
  const entries: StreamMetricsEntry[] = [];
  let skipped = 0;
  for (const [id, fields] of rows) {
    // Fields and values alternate; only a field (even position) named `m` counts, never a value "m".
    let text: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'm') text = fields[i + 1];
    const entry = text !== undefined ? parseMetricsEntry(text) : null;
    if (entry) entries.push({ id, time: Number(id.split('-')[0]), ...entry });
    else skipped++;
  }
  return { entries, skipped };
}
