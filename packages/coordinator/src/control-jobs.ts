import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { commitCheckpoint, parseRunConfig, RunSchedule, type RunConfig } from '@mat/core';
import { JOBS, RunStore, type RunState } from '@mat/exchange';
import { Evaluations } from './evaluations';

/** Job data of the control queue: enough for any coordinator (same queue prefix) to act on the run. */
export interface ControlJobData {
  runId: string;
  config?: RunConfig;
  state?: RunState;
}

export interface PeerSavedJobData {
  runId: string;
  generation: number;
  step: number;
  peer: number;
}

/**
 * The coordinator's queue processors. Any coordinator on the queue prefix may run them (a job carries
 * its run id), so they read everything from Redis rather than from the coordinator that started them.
 */
export class ControlJobs {
  constructor(
    private readonly redis: Redis,
    private readonly evaluations: (runId: string) => Evaluations,
    private readonly clock: () => number,
  ) {}

  /** create / resume (a run's config and state) and stop (`mat status --stop`). */
  async onControl(job: Job<ControlJobData>): Promise<unknown> {
    const store = new RunStore(this.redis, job.data.runId);
    if ((job.name === JOBS.create || job.name === JOBS.resume) && job.data.config && job.data.state) {
      await store.create(job.data.config, job.data.state);
      await store.addMetric({ type: 'run', event: job.name, step: job.data.state.resumeStep });
      return { registered: true };
    }
    if (job.name === JOBS.stop) {
      // When it was asked for: a stop the peers cannot honour (one waits for a hung partner) is forced.
      await store.writeState({ stopRequested: true, stopRequestedAt: this.clock() });
      await store.addMetric({ type: 'run', event: 'stop-requested' });
      return { stopRequested: true };
    }
    throw new Error(`unknown control job "${job.name}"`);
  }

  /** A worker wrote its peer's file of a checkpoint; commit once every peer's is there. */
  async onPeerSaved(job: Job<PeerSavedJobData>): Promise<unknown> {
    const { runId, generation, step, peer } = job.data;
    const store = new RunStore(this.redis, runId);
    const state = await store.readState();
    if (!state) return { skipped: 'unknown run' };
    const saved = await store.countSaved(generation, step, peer);
    if (saved < state.peers) return { saved };
    const config = parseRunConfig(await store.readConfig(), `config of run ${runId}`);
    // Older checkpoints are pruned, but never one an evaluation job has yet to read.
    const pinned = await this.evaluations(runId).pinnedSteps();
    const dir = commitCheckpoint(
      state.runDir,
      { step, seed: config.seed, peers: state.peers, arch: config.model.arch },
      { pinned },
    );
    await store.writeState({ checkpointStep: Math.max(state.checkpointStep, step) });
    await store.addMetric({ type: 'checkpoint', step, dir });
    const schedule = new RunSchedule(config, state.totalSteps / config.train.epochs);
    if (step === state.lastStep) {
      await store.writeState({ status: 'evaluating' });
      await this.evaluations(runId).enqueue(state.peers, step, dir, true);
    } else if (schedule.epochEvalDue(step)) {
      await this.evaluations(runId).enqueue(state.peers, step, dir, false);
    }
    return { committed: dir };
  }
}
