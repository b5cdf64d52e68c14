import {
  ContractError,
  decodeMetricsEntry,
  decodeMetricsRow,
  type CheckpointEntry,
  type EvalEntry,
  type MetricsEntry as StreamEntry,
  type RunEntry,
  type StepEntry,
  type WorkerEntry,
} from '@mat/exchange';

/**
 * The entries of a run's metrics stream that the page shows, decoded through the one contract of
 * @mat/exchange (contracts/metrics-entry.ts) that the workers and the coordinator write with: steps, evals,
 * worker events, and the coordinator's run events (generations, rollbacks, the end) and checkpoints, which
 * the charts mark. The page needs no staleness or final flag: they are left out. An entry that breaks the
 * contract is skipped and counted (a page must not stop at one bad entry).
 */

export type StepMetrics = Omit<StepEntry, 'staleness'>;
export type EvalMetrics = Omit<EvalEntry, 'final'>;
export type WorkerEvent = WorkerEntry;
export { WORKER_EVENTS } from '@mat/exchange';

export type RunEvent = RunEntry;
export type CheckpointEvent = CheckpointEntry;

export type MetricsEntry = StepMetrics | EvalMetrics | WorkerEvent | RunEvent | CheckpointEvent;

/** One stream entry as the API returns it: its stream id, its time (ms epoch, from the id) and the entry. */
export type StreamMetricsEntry = MetricsEntry & { id: string; time: number };

function shown(entry: StreamEntry): MetricsEntry | undefined {
  switch (entry.type) {
    case 'step': {
      const { staleness: _s, ...rest } = entry;
      return rest;
    }
    case 'eval': {
      const { final: _f, ...rest } = entry;
      return rest;
    }
    case 'worker':
    case 'run':
    case 'checkpoint':
      return entry;
    default:
      return undefined;
  }
}

/** Parses the JSON text of field `m`; null (never throws) when it breaks the contract or is not shown. */
export function parseMetricsEntry(text: string): MetricsEntry | null {
  try {
    return shown(decodeMetricsEntry(text)) ?? null;
  } catch (err) {
    if (err instanceof ContractError) return null;
    throw err;
  }
}

/**
 * Turns XRANGE's `[id, [field, value, ...]]` rows into the entries shown; counts the rows that break the
 * contract (`skipped`, with the first reason in `firstProblem`).
 */
export function parseStreamRows(
  rows: Array<[string, string[]]>,
  stream = 'the metrics stream',
): { entries: StreamMetricsEntry[]; skipped: number; firstProblem?: string } {
  const entries: StreamMetricsEntry[] = [];
  let skipped = 0;
  let firstProblem: string | undefined;
  for (const row of rows) {
    let entry: StreamEntry;
    try {
      entry = decodeMetricsRow(row, stream);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      skipped++;
      firstProblem ??= err.message;
      continue;
    }
    const view = shown(entry);
    if (view) entries.push({ id: row[0], time: Number(row[0].split('-')[0]), ...view });
  }
  return { entries, skipped, ...(firstProblem !== undefined && { firstProblem }) };
}
