import type { Redis } from 'ioredis';
import {
  ContractError,
  decodeSlotLease,
  parseJsonText,
  RUNS_INDEX_KEY,
  runKeys,
  SkipCounter,
} from '@mat/exchange';
import { parseStreamRows, type StreamMetricsEntry } from './metrics-entry';
import { metricsFileOf, readRunHistory, type RunHistory } from './run-history';
import { toWorkerView, type WorkerView } from './worker-health';

/**
 * Reads what the dashboard shows from the keys of @mat/exchange's redis-keys.ts. Read-only: the dashboard
 * never writes to a run. Every read of a run is a handful of commands in one pipeline, so a page polling
 * once a second costs Redis little.
 */

export interface RunSummary {
  id: string;
  status: string | null;
  step: number | null;
  peers: number | null;
  checkpointStep: number | null;
  /** The step the run ends at (state `lastStep`), for progress. */
  lastStep: number | null;
  /** Steps of the whole schedule (epochs × steps per epoch): the comparison's epoch axis. */
  totalSteps: number | null;
  /** Increases whenever all peers restart together (rollback, Redis or coordinator restart). */
  generation: number | null;
  createdAt: number | null;
  updatedAt: number | null;
  error: string | null;
}

export interface SlotView {
  peer: number;
  workerId: string | null;
  leaseUntil: number | null;
  step: number | null;
  status: string | null;
  /** Set when the hash value breaks the slot contract (the slot is shown as free). */
  error?: string;
}

export interface RunDetail extends RunSummary {
  /** The run's config with any password/token/secret-like field removed; null when not written yet. */
  config: unknown;
  slots: SlotView[];
  workers: WorkerView[];
  metrics: {
    entries: StreamMetricsEntry[];
    /** Pass as `after` to get only newer entries; null when the stream is empty. */
    lastId: string | null;
    /** True when more entries than `limit` were newer: ask again right away. */
    more: boolean;
    /** Entries that were not well-formed metrics (not shown). */
    skipped: number;
  };
  /**
   * On the first read (no `after`) of a run whose metrics stream does not start at the run's creation
   * (Redis restarted empty, or does not know the run at all): its history from the run directory's
   * metrics.jsonl, with a note saying so.
   */
  history?: RunHistory;
  /** Server clock (ms epoch), to show heartbeat ages without trusting the browser's clock. */
  now: number;
}

export interface RunReaderOptions {
  /** A worker whose last heartbeat is older than this is "lost" (half of it: "late"). @defaultValue 10000 */
  heartbeatTimeoutMs?: number;
  /** At most this many metrics entries per read. @defaultValue 2000 */
  maxEntries?: number;
  /** Where malformed stream entries are reported (a few a minute at most). */
  log?: (line: string) => void;
  /** Where run directories are (mat train --out-dir), to find a run Redis lost. @defaultValue none */
  runsDir?: string;
}

const intOrNull = (v: string | undefined) => {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

function toSummary(id: string, h: Record<string, string>): RunSummary {
  return {
    id,
    status: h.status ?? null,
    step: intOrNull(h.step),
    peers: intOrNull(h.peers),
    checkpointStep: intOrNull(h.checkpointStep),
    lastStep: intOrNull(h.lastStep),
    totalSteps: intOrNull(h.totalSteps),
    generation: intOrNull(h.generation),
    createdAt: intOrNull(h.createdAt),
    updatedAt: intOrNull(h.updatedAt),
    error: h.error ?? null,
  };
}

const SECRET_KEY = /pass(word)?|secret|token|credential|auth/i;

/** Drops fields whose names look like secrets, at any depth, so that the page never shows one. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!SECRET_KEY.test(k)) out[k] = redactSecrets(v);
  return out;
}

function toSlot(runId: string, field: string, json: string): SlotView | null {
  const peer = Number(field);
  if (!/^\d{1,6}$/.test(field)) return null;
  try {
    const s = decodeSlotLease(json, `slot ${peer} of run ${runId}`);
    return { peer, workerId: s.workerId, leaseUntil: s.leaseUntil, step: s.step, status: s.status };
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    // An unreadable slot is shown as free, with the reason, rather than hiding the others.
    return { peer, workerId: null, leaseUntil: null, step: null, status: null, error: err.message };
  }
}

function startsAtCreation(entries: StreamMetricsEntry[]): boolean {
  const first = entries[0];
  return first?.type === 'run' && first.event === 'create';
}

export class RunReader {
  private readonly heartbeatTimeoutMs: number;
  private readonly maxEntries: number;
  private readonly skips: SkipCounter;

  constructor(
    private readonly redis: Redis,
    options: RunReaderOptions = {},
  ) {
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10000;
    this.maxEntries = options.maxEntries ?? 2000;
    this.skips = new SkipCounter(options.log ?? (() => {}));
    this.runsDir = options.runsDir;
  }

  private readonly runsDir: string | undefined;

  /** Runs in the index, newest update first. */
  async listRuns(): Promise<RunSummary[]> {
    const ids = (await this.redis.smembers(RUNS_INDEX_KEY)).sort();
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(runKeys(id).state);
    const results = (await pipe.exec()) ?? [];
    const runs = ids.map((id, i) => toSummary(id, (results[i]?.[1] as Record<string, string>) ?? {}));
    return runs.sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0) || a.id.localeCompare(b.id));
  }

  /** A run is known when it is in the index or has a state hash. */
  async exists(id: string): Promise<boolean> {
    const [inIndex, hasState] = await Promise.all([
      this.redis.sismember(RUNS_INDEX_KEY, id),
      this.redis.exists(runKeys(id).state),
    ]);
    return inIndex === 1 || hasState === 1 || metricsFileOf(id, { runsDir: this.runsDir }) !== null;
  }

  /** The run's state, workers and the metrics entries after stream id `after`; null for an unknown run. */
  async readRun(id: string, after?: string): Promise<RunDetail | null> {
    const keys = runKeys(id);
    // `(` makes the start exclusive (Redis >= 6.2), so a client never receives an entry twice.
    const start = after ? `(${after}` : '-';
    const results =
      (await this.redis
        .pipeline()
        .sismember(RUNS_INDEX_KEY, id)
        .hgetall(keys.state)
        .get(keys.config)
        .hgetall(keys.slots)
        .hgetall(keys.workers)
        .xrange(keys.metrics, start, '+', 'COUNT', this.maxEntries + 1)
        .exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    const [inIndex, state, configText, slots, workers, rows] = results.map(([, v]) => v) as [
      number,
      Record<string, string>,
      string | null,
      Record<string, string>,
      Record<string, string>,
      Array<[string, string[]]>,
    ];
    if (inIndex !== 1 && Object.keys(state).length === 0) return this.fromRunDirectory(id, after);

    const now = Date.now();
    const more = rows.length > this.maxEntries;
    const kept = more ? rows.slice(0, this.maxEntries) : rows;
    const { entries, skipped, firstProblem } = parseStreamRows(kept, keys.metrics);
    if (firstProblem !== undefined)
      this.skips.skip(`${skipped} metrics entries of run ${id}: ${firstProblem}`);
    let config: unknown = null;
    if (configText) {
      try {
        config = redactSecrets(parseJsonText(configText, `config of run ${id}`));
      } catch (err) {
        if (!(err instanceof ContractError)) throw err;
        config = { error: `the stored run config is unreadable: ${err.message}` };
      }
    }
    // The stream of a run starts with its `create` entry; one that does not (Redis restarted empty and the
    // coordinator registered the run again) lacks the run's start, which metrics.jsonl has.
    let history: RunHistory | undefined;
    if (after === undefined && !startsAtCreation(entries)) {
      const file = metricsFileOf(id, { runDir: state.runDir, runsDir: this.runsDir });
      if (file) history = readRunHistory(file, "Redis lost the start of this run's metrics stream");
    }
    return {
      ...toSummary(id, state),
      ...(history && { history }),
      config,
      slots: Object.entries(slots)
        .map(([field, json]) => toSlot(id, field, json))
        .filter((s): s is SlotView => s !== null)
        .sort((a, b) => a.peer - b.peer),
      workers: Object.entries(workers)
        .map(([workerId, json]) => toWorkerView(workerId, json, now, this.heartbeatTimeoutMs))
        .sort((a, b) => (a.peer ?? Infinity) - (b.peer ?? Infinity) || a.workerId.localeCompare(b.workerId)),
      metrics: {
        entries,
        lastId: kept.length > 0 ? kept[kept.length - 1][0] : (after ?? null),
        more,
        skipped,
      },
      now,
    };
  }

  /** A run Redis does not know (restarted empty), from its run directory under runsDir, if there is one. */
  private fromRunDirectory(id: string, after: string | undefined): RunDetail | null {
    const file = metricsFileOf(id, { runsDir: this.runsDir });
    if (!file) return null;
    return {
      ...toSummary(id, {}),
      status: 'not in Redis',
      ...(after === undefined && {
        history: readRunHistory(file, 'Redis does not know this run (restarted without persistence?)'),
      }),
      config: null,
      slots: [],
      workers: [],
      metrics: { entries: [], lastId: after ?? null, more: false, skipped: 0 },
      now: Date.now(),
    };
  }
}
