import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { RedisConnection, WorkerRecord } from '@mat/exchange';

export type HeartbeatUpdate =
  | {
      type: 'update';
      worker?: Partial<WorkerRecord>;
      slot?: { peer?: number | null; step?: number; status?: string };
      /** The evaluation job being run (its lock is renewed with the slot's lease), or null once it is done. */
      evaluation?: EvaluationLock | null;
    }
  | { type: 'stop' };

/** The BullMQ lock of an evaluation job this worker runs (evaluation-jobs.ts). */
export interface EvaluationLock {
  jobId: string;
  token: string;
}

export type HeartbeatEvent =
  | { type: 'lost'; peer: number }
  /** `connection`: Redis itself is unreachable (reported once per outage, not per retry). */
  | { type: 'error'; message: string; connection?: boolean };

/**
 * The worker's heartbeat, in a thread of its own (./heartbeat-thread.ts): every `leaseMs / 3` it renews
 * the lease of the slot held, the worker's record, the lease of its GPU (`mat worker --gpu auto`) and the
 * lock of the evaluation job it runs, whatever the main thread is computing: a worker that dies loses them
 * all within one lease, and its slot goes to a spare, its evaluation to another idle worker. `onLost` fires when the slot turns out to be someone else's (the
 * coordinator gave it away after missed beats).
 */
export class Heartbeat {
  private readonly thread: Worker;

  constructor(
    opts: {
      conn: RedisConnection;
      runId: string;
      leaseMs: number;
      worker: WorkerRecord;
      /** BullMQ key prefix of the evaluation queue (evaluation job locks). */
      queuePrefix: string;
      /** The GPU lease to renew (GpuClaim.lease), if any. */
      gpu?: { pool: string; device: string };
    },
    private readonly onEvent: (e: HeartbeatEvent) => void,
  ) {
    this.thread = new Worker(threadPath(), {
      workerData: { ...opts, intervalMs: Math.max(100, Math.floor(opts.leaseMs / 3)) },
    });
    this.thread.on('message', (e: HeartbeatEvent) => this.onEvent(e));
    this.thread.on('error', (err) => this.onEvent({ type: 'error', message: err.message }));
  }

  update(u: Omit<Extract<HeartbeatUpdate, { type: 'update' }>, 'type'>): void {
    this.thread.postMessage({ type: 'update', ...u });
  }

  async stop(): Promise<void> {
    this.thread.postMessage({ type: 'stop' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await this.thread.terminate();
  }
}

/** The compiled thread script (the same from src/ under jest as from dist/). */
function threadPath(): string {
  const compiled = path.resolve(__dirname, '..', '..', 'dist', 'redis', 'heartbeat-thread.js');
  const beside = path.join(__dirname, 'heartbeat-thread.js');
  return fs.existsSync(beside) ? beside : compiled;
}
