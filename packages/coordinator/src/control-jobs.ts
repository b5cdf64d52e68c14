import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { commitCheckpoint, parseRunConfig, RunSchedule } from '@mat/core';
import {
  ContractError,
  decodePeerSavedJob,
  decodeRegisterJob,
  decodeStopJob,
  JOBS,
  RunStore,
  type RunStatus,
} from '@mat/exchange';
import { Evaluations } from './evaluations';

/** A run in one of these has ended: it may be created or resumed again, and has nothing left to stop. */
const ENDED: readonly RunStatus[] = ['finished', 'stopped', 'failed'];
/** A create / resume is accepted for a run that is not in Redis or that stopped or failed (Coordinator.run). */
const REGISTRABLE: readonly RunStatus[] = ['stopped', 'failed'];

/** What a job is called in errors and logs: `control create job 12 (run r1)`, `checkpoint peer-saved job …`. */
const jobName = (job: Job<unknown>, runId?: string) =>
  `${job.name === JOBS.peerSaved ? 'checkpoint' : 'control'} ${job.name} job ${job.id ?? '?'}${runId === undefined ? '' : ` (run ${runId})`}`;

/**
 * A control job that is refused: it fails for good (no retry) with a message naming the job and why, which
 * the coordinator's `failed` listener logs. Nothing of the run is touched.
 */
function refuse(job: Job<unknown>, why: string, runId?: string): never {
  throw new UnrecoverableError(`refused ${jobName(job, runId)}: ${why}`);
}

/** Decodes job data through its contract; a malformed one is refused naming the job and every bad field. */
function decode<T>(job: Job<unknown>, decoder: (data: unknown, id?: string) => T): T {
  try {
    return decoder(job.data, job.id);
  } catch (err) {
    if (err instanceof ContractError) refuse(job, `malformed data: ${err.problems.join('; ')}`);
    throw err;
  }
}

/**
 * The coordinator's queue processors. Any coordinator on the queue prefix may run them (a job carries
 * its run id), so they read everything from Redis rather than from the coordinator that started them.
 * Job data is decoded through the job contracts (@mat/exchange contracts/jobs.ts): the queues are as open
 * as Redis, so a forged or malformed job is refused, never acted on.
 */
export class ControlJobs {
  constructor(
    private readonly redis: Redis,
    private readonly evaluations: (runId: string) => Evaluations,
    private readonly clock: () => number,
  ) {}

  /** create / resume (a run's config and state) and stop (`mat status --stop`). */
  async onControl(job: Job<unknown>): Promise<unknown> {
    if (job.name === JOBS.create) return this.register(job, JOBS.create);
    if (job.name === JOBS.resume) return this.register(job, JOBS.resume);
    if (job.name === JOBS.stop) return this.stop(job);
    return refuse(job, `unknown control job "${job.name}"`);
  }

  private async register(
    job: Job<unknown>,
    event: typeof JOBS.create | typeof JOBS.resume,
  ): Promise<unknown> {
    const { runId, config, state } = decode(job, decodeRegisterJob);
    let runConfig;
    try {
      runConfig = parseRunConfig(config, `config of ${jobName(job, runId)}`);
    } catch (err) {
      return refuse(job, (err as Error).message, runId);
    }
    if (runConfig.peers !== state.peers)
      refuse(job, `its config has ${runConfig.peers} peers and its state ${state.peers}`, runId);
    const store = new RunStore(this.redis, runId);
    // A registration replaces the run's config and state and frees its slots: never of a live run, whose
    // workers it would throw out (a coordinator registers only a new, stopped or failed run).
    const current = await store.readState();
    if (current && !REGISTRABLE.includes(current.status))
      refuse(
        job,
        `run ${runId} is ${current.status} (step ${current.step} of ${current.lastStep}); only a new, stopped or failed run is created or resumed`,
        runId,
      );
    await store.create(config, state);
    await store.addMetric({ type: 'run', event, step: state.resumeStep });
    return { registered: true };
  }

  private async stop(job: Job<unknown>): Promise<unknown> {
    const { runId } = decode(job, decodeStopJob);
    const store = new RunStore(this.redis, runId);
    const state = await store.readState();
    // Writing the stop fields of a run that is not there would leave a state hash without the rest.
    if (!state) refuse(job, `run ${runId} is not in Redis`, runId);
    if (ENDED.includes(state.status)) return { stopRequested: false, status: state.status };
    // When it was asked for: a stop the peers cannot honour (one waits for a hung partner) is forced.
    await store.writeState({ stopRequested: true, stopRequestedAt: this.clock() });
    await store.addMetric({ type: 'run', event: 'stop-requested' });
    return { stopRequested: true };
  }

  /** A worker wrote its peer's file of a checkpoint; commit once every peer's is there. */
  async onPeerSaved(job: Job<unknown>): Promise<unknown> {
    const { runId, generation, step, peer } = decode(job, decodePeerSavedJob);
    const store = new RunStore(this.redis, runId);
    const state = await store.readState();
    if (!state) return { skipped: 'unknown run' };
    if (peer >= state.peers) refuse(job, `peer ${peer} of a run of ${state.peers} peers`, runId);
    const saved = await store.countSaved(generation, step, peer);
    if (saved < state.peers) return { saved };
    const config = parseRunConfig(await store.readConfig(), `config of run ${runId}`);
    const schedule = new RunSchedule(config, state.totalSteps / config.train.epochs);
    // Older checkpoints are pruned, but never one an evaluation job has yet to read or one the config keeps.
    const pinned = new Set([...(await this.evaluations(runId).pinnedSteps()), ...schedule.keptSteps]);
    const dir = commitCheckpoint(
      state.runDir,
      { step, seed: config.seed, peers: state.peers, arch: config.model.arch },
      { pinned },
    );
    await store.writeState({ checkpointStep: Math.max(state.checkpointStep, step) });
    await store.addMetric({ type: 'checkpoint', step, dir });
    if (step === state.lastStep) {
      await store.writeState({ status: 'evaluating' });
      await this.evaluations(runId).enqueue(state.peers, step, dir, true);
    } else if (schedule.epochEvalDue(step)) {
      await this.evaluations(runId).enqueue(state.peers, step, dir, false);
    }
    return { committed: dir };
  }
}
