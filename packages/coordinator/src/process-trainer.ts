import { fork, type ChildProcess } from 'child_process';
import * as os from 'os';
import {
  commitCheckpoint,
  loadRunData,
  openRunDirectory,
  RunSchedule,
  runSummary,
  StepAggregator,
  type EvalEvent,
  type OpenRunOptions,
  type RunConfig,
  type RunDirectory,
  type RunEvents,
  type RunSummary,
} from '@mat/core';
import { routeExchange } from '@mat/exchange';
import { childMainPath, isChildMessage, type ChildMessage, type ParentMessage } from '@mat/worker';

/**
 * `mat train --runtime auto`: one process per peer when that is faster and safe — at least 2 peers and 2
 * cores, and a backend that computes on one core per process (wasm, cpu, or native with one thread). The
 * tensorflow backend stays in-process: every process would claim the whole GPU's memory.
 */
export function autoRuntime(
  peers: number,
  backend: string,
  cores = os.cpus().length,
): 'processes' | 'in-process' {
  const oneCore =
    backend === 'wasm' ||
    backend === 'cpu' ||
    (backend === 'native' && Number(process.env.MAT_NATIVE_THREADS ?? 1) <= 1);
  return peers >= 2 && cores >= 2 && oneCore ? 'processes' : 'in-process';
}

/**
 * The embedded distributed runtime (`mat train --runtime processes`): one child process per peer on this
 * machine, the parent routing their messages over IPC — no Redis, no Docker. The children run the same
 * worker loop as `mat worker`; this parent plays the coordinator: it commits a checkpoint once every
 * peer's file is written and turns the peers' reports into the in-process trainer's records (the run
 * directory, schedule and metrics lines of @mat/core's run lifecycle), whose results it reproduces exactly.
 */
export class ProcessTrainer {
  private children: ChildProcess[] = [];
  private reported = new Map<number, number>();
  private pauseAt: number | undefined;

  private constructor(
    readonly config: RunConfig,
    private readonly dir: RunDirectory,
    readonly schedule: RunSchedule,
    private readonly startStep: number,
    private readonly metadata: Record<string, unknown>,
  ) {}

  static async open(
    config: RunConfig,
    opts: OpenRunOptions & { metadata?: Record<string, unknown> } = {},
  ): Promise<ProcessTrainer> {
    const { batcher } = await loadRunData(config);
    const schedule = new RunSchedule(config, batcher.batchesPerEpoch);
    const { dir, checkpoint } = openRunDirectory(config, opts);
    const metadata = { ...opts.metadata, runtime: 'processes' };
    return new ProcessTrainer(config, dir, schedule, checkpoint?.step ?? 0, metadata);
  }

  get runDir(): string {
    return this.dir.path;
  }

  get stepsDone(): number {
    return Math.min(...[...this.reported.values(), this.startStep]);
  }

  get totalSteps(): number {
    return this.schedule.totalSteps;
  }

  /** Every peer stops after a step all of them can still reach (one past the furthest), with a checkpoint. */
  requestStop(): void {
    if (this.pauseAt !== undefined) return;
    this.pauseAt = Math.max(this.startStep, ...this.reported.values()) + 1;
    for (const child of this.children) if (child.connected) child.send({ type: 'pause', at: this.pauseAt });
  }

  async run(events: RunEvents = {}): Promise<RunSummary> {
    const { config } = this;
    const n = config.peers;
    const metrics = this.dir.openMetrics();
    const lines = new StepAggregator(this.schedule, n);
    const started = Date.now();
    const checkpoints = new Map<number, number>();
    let final: EvalEvent | undefined;
    let finishedPeers = 0;
    let lastDone = this.startStep;

    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => {
          this.killChildren();
          reject(err);
        };
        const onMessage = (m: ChildMessage) => {
          switch (m.type) {
            case 'step': {
              this.reported.set(m.peer, m.report.step);
              const line = lines.addStep({ ...m.report, peer: m.peer });
              if (line) {
                metrics.append({ type: 'step', ...line });
                events.onStep?.(line);
              }
              break;
            }
            case 'checkpoint': {
              const count = (checkpoints.get(m.step) ?? 0) + 1;
              checkpoints.set(m.step, count);
              if (count === n) {
                checkpoints.delete(m.step);
                const meta = { step: m.step, seed: config.seed, peers: n, arch: config.model.arch };
                const dir = commitCheckpoint(this.dir.path, meta);
                events.onCheckpoint?.({ step: m.step, dir });
              }
              break;
            }
            case 'eval-progress':
              events.onEvalProgress?.(m.peer, m.done, m.total);
              break;
            case 'eval': {
              const line = lines.addEval({ ...m.result, peer: m.peer, step: m.step, final: m.final });
              if (line) {
                metrics.append({ type: 'eval', ...line });
                events.onEval?.(line);
                if (line.final) final = line;
              }
              break;
            }
            case 'done':
              lastDone = m.step;
              if (++finishedPeers === n) resolve();
              break;
            case 'error':
              fail(new Error(`peer ${m.peer} failed: ${m.message}`));
              break;
          }
        };
        this.children = Array.from({ length: n }, (_, peer) => {
          const child = fork(childMainPath(), [], {
            serialization: 'advanced',
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          child.on('message', (m) => isChildMessage(m) && onMessage(m));
          child.on('exit', (code, signal) => {
            if (finishedPeers < n)
              fail(
                new Error(`peer ${peer}'s process exited (${signal ?? `code ${code}`}) before the run ended`),
              );
          });
          child.on('error', (err) => fail(new Error(`peer ${peer}'s process: ${err.message}`)));
          return child;
        });
        routeExchange(this.children);
        const start = (child: ChildProcess, peer: number) => {
          const message: ParentMessage = {
            type: 'start',
            runId: `${config.name}-${started}`,
            config,
            peer,
            runDir: this.dir.path,
            startStep: this.startStep,
          };
          child.send(message);
          if (this.pauseAt !== undefined) child.send({ type: 'pause', at: this.pauseAt });
        };
        this.children.forEach((child, peer) =>
          child.on('message', (m) => isChildMessage(m) && m.type === 'listening' && start(child, peer)),
        );
      });
    } finally {
      metrics.close();
      for (const child of this.children) if (child.connected) child.disconnect();
    }

    const summary = runSummary({
      metadata: this.metadata,
      runDir: this.dir.path,
      stepsDone: lastDone,
      totalSteps: this.schedule.totalSteps,
      seconds: (Date.now() - started) / 1000,
      images: (lastDone - this.startStep) * config.train.batchSize * n,
      final,
    });
    this.dir.writeSummary(summary);
    return summary;
  }

  private killChildren(): void {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  }

  dispose(): void {
    this.killChildren();
  }
}
