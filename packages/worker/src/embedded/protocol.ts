import type { DivergenceReport, EvalResult, RunConfig } from '@mat/core';
import type { StepReport } from '../train-loop';

/**
 * Messages between `mat train --runtime processes` (the parent, @mat/coordinator's ProcessTrainer) and its
 * child processes, one per peer (./child-main.ts). Exchange traffic (x_i', teacher labels) travels on the
 * same channel as @mat/exchange's IPC messages.
 */
export type ParentMessage =
  | { type: 'start'; runId: string; config: RunConfig; peer: number; runDir: string; startStep: number }
  /** Stop once this many steps are done (the parent picks a step every peer can reach), with a checkpoint. */
  | { type: 'pause'; at: number };

export type ChildMessage =
  /** The child listens: the parent may send 'start' (messages sent before would be lost). */
  | { type: 'listening' }
  | { type: 'ready'; peer: number; backend: string }
  | { type: 'step'; peer: number; report: StepReport }
  | { type: 'checkpoint'; peer: number; step: number; file: string }
  | { type: 'eval'; peer: number; step: number; final: boolean; result: EvalResult }
  /** The peer starts evaluating (synchronously: it reads no message until the evaluation's result). */
  | { type: 'eval-start'; peer: number; step: number }
  | { type: 'eval-progress'; peer: number; done: number; total: number }
  | { type: 'done'; peer: number; step: number; rejectedMessages: number }
  /** The child's run ended with an error; `divergence` when its peer diverged (core's DivergenceError). */
  | { type: 'error'; peer: number; message: string; stack?: string; divergence?: DivergenceReport };

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
