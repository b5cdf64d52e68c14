import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { RedisConnection, WorkerRecord } from '@mat/exchange';

export type HeartbeatUpdate =
  | {
      type: 'update';
      worker?: Partial<WorkerRecord>;
      slot?: { peer?: number | null; step?: number; status?: string };
    }
  | { type: 'stop' };

export type HeartbeatEvent = { type: 'lost'; peer: number } | { type: 'error'; message: string };

/**
 * The worker's heartbeat, in a thread of its own (./heartbeat-thread.ts): every `leaseMs / 3` it renews
 * the lease of the slot held, the worker's record and the lease of its GPU (`mat worker --gpu auto`),
 * whatever the main thread is computing. `onLost` fires when the slot turns out to be someone else's (the
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
