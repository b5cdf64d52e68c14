import { z } from 'zod';

/**
 * summary.json: one contract for its writers (the in-process trainer, the parent of `--runtime processes`,
 * the coordinator; RunDirectory.writeSummary checks it first) and its readers (mat report, the dashboard;
 * parseRunSummary here, @mat/exchange's decodeRunSummary). Written through runSummary() (./run-records.ts).
 */

const count = z.number().int().nonnegative();
const seconds = z.number().nonnegative();
/** An accuracy read back from JSON: a fraction, never null (NaN is never a result). */
const fraction = z.number().min(0).max(1);

/** Where the run's wall-clock time went. Their sum is the summary's `seconds`. */
export const runTimingSchema = z.object({
  /** Before the first step: waiting for workers to hold every peer slot (distributed), starting processes. */
  waitingSeconds: seconds,
  /** Taking steps (also the steps redone after a rollback). */
  trainingSeconds: seconds,
  /** Evaluations (at epoch ends when training waits for them, and the final one). */
  evaluationSeconds: seconds,
  /** From a lost worker or a divergence until every peer trains again from the common checkpoint. */
  recoverySeconds: seconds,
});

/** What happened to the run on its way, beside the steps: the same in every runtime for a run without faults. */
export const runHistorySchema = z.object({
  /** Times every peer started training together from a common step: 1 + one per rollback, lost worker or stall. */
  generations: count,
  /** Rollbacks to the last checkpoint after a peer diverged. */
  rollbacks: count,
  /** Workers whose lease ran out (distributed runs). */
  lostWorkers: count,
  /** Steps taken again because a rollback or a lost worker sent every peer back to a checkpoint. */
  stepsRedone: count,
});

/** A scheduled evaluation that could not be done (summary.json's missingEvaluations). */
export const missingEvaluationSchema = z.object({
  peer: count,
  step: count,
  reason: z.string().max(64 * 1024),
});

const evalEventSchema = z.object({
  step: count,
  epoch: z.number().int().min(-1),
  final: z.boolean(),
  peers: z.array(z.object({ peer: count, count, cleanAccuracy: fraction, robustAccuracy: fraction })),
});

export const runSummarySchema = z.object({
  /** Where and how the run ran: `runtime`, `backend`, and the distributed run's `runId`, `generation`. */
  metadata: z.record(z.string(), z.unknown()),
  runDir: z.string().min(1).max(4096),
  stepsDone: count,
  /** Steps of the whole schedule (epochs × steps per epoch), even when train.maxSteps ends the run sooner. */
  totalSteps: count,
  stoppedEarly: z.boolean(),
  /** Wall-clock seconds of the run: the sum of `timing` (its start to its end, all sessions). */
  seconds,
  /** Adversarial training images per second of training time (timing.trainingSeconds), over all peers. */
  imagesPerSecond: seconds,
  /** Absent from summaries written before it was recorded. */
  timing: runTimingSchema.optional(),
  /** Absent from summaries written before it was recorded. */
  history: runHistorySchema.optional(),
  final: evalEventSchema.optional(),
  /** Why the run failed (a peer diverged, an evaluation could not be done); absent when it did not. */
  error: z
    .string()
    .max(64 * 1024)
    .optional(),
  /** Scheduled evaluations that could not be done, with the reason; absent when every one was. */
  missingEvaluations: z.array(missingEvaluationSchema).optional(),
});

export type RunTiming = z.output<typeof runTimingSchema>;
export type RunHistory = z.output<typeof runHistorySchema>;

export const NO_HISTORY: RunHistory = { generations: 0, rollbacks: 0, lostWorkers: 0, stepsRedone: 0 };
export const NO_TIME: RunTiming = {
  waitingSeconds: 0,
  trainingSeconds: 0,
  evaluationSeconds: 0,
  recoverySeconds: 0,
};

/** summary.json's content checked against the contract; the error names the file and every wrong field. */
export function parseRunSummary(json: unknown, file = 'summary.json'): z.output<typeof runSummarySchema> {
  const parsed = runSummarySchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
  );
  throw new Error(`${file} is not a run summary: ${problems.join('; ')}`);
}

export type RunPhase = 'waiting' | 'training' | 'evaluation' | 'recovery';

const PHASE_FIELD: Record<RunPhase, keyof RunTiming> = {
  waiting: 'waitingSeconds',
  training: 'trainingSeconds',
  evaluation: 'evaluationSeconds',
  recovery: 'recoverySeconds',
};

/**
 * Splits a run's wall-clock time into its phases: each runtime says when a phase begins (enter) and when
 * the run ends (stop); the time until the next change is the phase's. Times are given (ms), never read here,
 * so a reader of past events (the coordinator reading the metrics stream) replays them at their own times.
 */
export class PhaseClock {
  private current: RunPhase | undefined;
  private since = 0;
  private readonly totals: RunTiming;

  /** `carried`: the time of earlier sessions of the run (a resumed run's previous summary). */
  constructor(carried: RunTiming = NO_TIME) {
    this.totals = { ...carried };
  }

  get phase(): RunPhase | undefined {
    return this.current;
  }

  enter(phase: RunPhase, atMs: number): void {
    this.close(atMs);
    this.current = phase;
    this.since = atMs;
  }

  /** The run ended (or stopped): nothing more is counted until the next enter(). */
  stop(atMs: number): void {
    this.close(atMs);
    this.current = undefined;
  }

  /** The totals so far, the current phase counted up to `atMs`. */
  timing(atMs: number): RunTiming {
    const out = { ...this.totals };
    if (this.current) out[PHASE_FIELD[this.current]] += Math.max(0, atMs - this.since) / 1000;
    return out;
  }

  private close(atMs: number): void {
    if (!this.current) return;
    this.totals[PHASE_FIELD[this.current]] += Math.max(0, atMs - this.since) / 1000;
    this.since = atMs;
  }
}

/** What earlier sessions of a run (before a resume) did, from their summary.json. */
export interface EarlierSessions {
  timing: RunTiming;
  history: RunHistory;
  /**
   * The step the counted time starts at: 0 when the earlier sessions' time is known (or there were none),
   * else the step this session resumed at (a session killed before writing its summary left no times).
   */
  countedFrom: number;
}

/** Adversarial training images of the counted time: steps taken (also those redone) × batch × peers. */
export function imagesTrained(
  o: { stepsDone: number; countedFrom: number; stepsRedone: number },
  batchSize: number,
  peers: number,
): number {
  return Math.max(0, o.stepsDone - o.countedFrom + o.stepsRedone) * batchSize * peers;
}

/** The sum of a run's phases (its `seconds`). */
export const totalSeconds = (t: RunTiming): number =>
  t.waitingSeconds + t.trainingSeconds + t.evaluationSeconds + t.recoverySeconds;
