import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  commitCheckpoint,
  findLatestCheckpoint,
  loadRunData,
  type EvalEvent,
  type EvalResult,
  type PeerStepMetrics,
  type RunConfig,
  type RunEvents,
  type RunSummary,
  type StepEvent,
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
 * peer's file is written and reports steps and evaluations like the in-process trainer (same files:
 * config.json, metrics.jsonl, checkpoints/, summary.json), whose results it reproduces exactly.
 */
export class ProcessTrainer {
  private children: ChildProcess[] = [];
  private reported = new Map<number, number>();
  private pauseAt: number | undefined;

  private constructor(
    readonly config: RunConfig,
    readonly runDir: string,
    private readonly startStep: number,
    readonly totalSteps: number,
    private readonly stepsPerEpoch: number,
    private readonly metadata: Record<string, unknown>,
  ) {}

  static async open(
    config: RunConfig,
    opts: { resume?: boolean; metadata?: Record<string, unknown> } = {},
  ): Promise<ProcessTrainer> {
    const runDir = path.join(config.outDir, config.name);
    const { batcher } = await loadRunData(config);
    fs.mkdirSync(runDir, { recursive: true });
    const latest = opts.resume ? findLatestCheckpoint(runDir) : undefined;
    if (!latest) fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2));
    const total = config.train.epochs * batcher.batchesPerEpoch;
    const metadata = { ...opts.metadata, runtime: 'processes' };
    return new ProcessTrainer(config, runDir, latest?.step ?? 0, total, batcher.batchesPerEpoch, metadata);
  }

  get stepsDone(): number {
    return Math.min(...[...this.reported.values(), this.startStep]);
  }

  get lastStep(): number {
    return Math.min(this.totalSteps, this.config.train.maxSteps ?? Infinity);
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
    const log = fs.openSync(path.join(this.runDir, 'metrics.jsonl'), 'a');
    const write = (record: object) => fs.writeSync(log, JSON.stringify(record) + '\n');
    const started = Date.now();
    const steps = new Map<number, StepEvent>();
    const checkpoints = new Map<number, number>();
    const evals = new Map<number, EvalEvent>();
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
              const r = m.report;
              this.reported.set(m.peer, r.step);
              const e = steps.get(r.step) ?? {
                step: r.step,
                totalSteps: this.lastStep,
                epoch: r.epoch,
                lr: r.lr,
                seconds: 0,
                peers: [] as PeerStepMetrics[],
              };
              e.seconds = Math.max(e.seconds, r.stepSeconds);
              const { peer, loss, base, distill, advAccuracy, exchangeSeconds, staleness } = r;
              e.peers.push({
                peer,
                loss,
                base,
                distill,
                advAccuracy,
                exchangeSeconds,
                ...(staleness !== undefined && { staleness }),
              } as PeerStepMetrics);
              steps.set(r.step, e);
              if (e.peers.length === n) {
                steps.delete(r.step);
                e.peers.sort((a, b) => a.peer - b.peer);
                write({ type: 'step', ...e });
                events.onStep?.(e);
              }
              break;
            }
            case 'checkpoint': {
              const count = (checkpoints.get(m.step) ?? 0) + 1;
              checkpoints.set(m.step, count);
              if (count === n) {
                checkpoints.delete(m.step);
                const meta = { step: m.step, seed: config.seed, peers: n, arch: config.model.arch };
                const dir = commitCheckpoint(this.runDir, meta);
                events.onCheckpoint?.({ step: m.step, dir });
              }
              break;
            }
            case 'eval-progress':
              events.onEvalProgress?.(m.peer, m.done, m.total);
              break;
            case 'eval': {
              const epoch = Math.floor((m.step - 1) / this.stepsPerEpoch);
              const e = evals.get(m.step) ?? { step: m.step, epoch, final: m.final, peers: [] };
              e.peers.push({ peer: m.peer, ...(m.result as EvalResult) });
              evals.set(m.step, e);
              if (e.peers.length === n) {
                evals.delete(m.step);
                e.peers.sort((a, b) => a.peer - b.peer);
                write({ type: 'eval', ...e });
                events.onEval?.(e);
                if (e.final) final = e;
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
            runDir: this.runDir,
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
      fs.closeSync(log);
      for (const child of this.children) if (child.connected) child.disconnect();
    }

    const seconds = (Date.now() - started) / 1000;
    const images = (lastDone - this.startStep) * config.train.batchSize * n;
    const summary: RunSummary = {
      metadata: this.metadata,
      runDir: this.runDir,
      stepsDone: lastDone,
      totalSteps: this.totalSteps,
      stoppedEarly: lastDone < this.totalSteps,
      seconds,
      imagesPerSecond: seconds > 0 ? images / seconds : 0,
      final,
    };
    fs.writeFileSync(path.join(this.runDir, 'summary.json'), JSON.stringify(summary, null, 2));
    return summary;
  }

  private killChildren(): void {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  }

  dispose(): void {
    this.killChildren();
  }
}
