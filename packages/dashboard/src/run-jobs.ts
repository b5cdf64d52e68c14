import type { Queue } from 'bullmq';

/** One BullMQ job of a run, as the run page lists it. */
export interface RunJob {
  queue: string;
  id: string;
  name: string;
  state: string;
  step: number | null;
  peer: number | null;
  /** ms epoch */
  timestamp: number | null;
  failedReason: string | null;
}

const STATES = ['active', 'waiting', 'delayed', 'prioritized', 'failed', 'completed'] as const;
/** The newest jobs read per queue and state (a run has a few per checkpoint). */
const PER_STATE = 200;

const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/**
 * The jobs of one run (their data names it: `runId`) from the run-control queues, which every run shares:
 * bull-board shows them all mixed; the run page lists its own, newest first.
 */
export async function readRunJobs(queues: Queue[], runId: string): Promise<RunJob[]> {
  const out: RunJob[] = [];
  for (const queue of queues) {
    for (const state of STATES) {
      const jobs = await queue.getJobs([state], 0, PER_STATE - 1, false);
      for (const job of jobs) {
        const data = (job?.data ?? {}) as Record<string, unknown>;
        if (!job || data.runId !== runId) continue;
        out.push({
          queue: queue.name,
          id: String(job.id),
          name: job.name,
          state,
          step: int(data.step),
          peer: int(data.peer),
          timestamp: int(job.timestamp),
          failedReason: job.failedReason || null,
        });
      }
    }
  }
  return out.sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
}
