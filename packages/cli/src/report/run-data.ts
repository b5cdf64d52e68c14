import * as fs from 'fs';
import * as path from 'path';
import type { EvalEvent, PeerStepMetrics, RunSummary } from '@mat/core';
import { decodeRunSummary } from '@mat/exchange';
import { readEvalFile, type EvalFile } from '../eval/eval-file';

/** One training step as metrics.jsonl records it. */
export interface StepRecord {
  step: number;
  epoch: number;
  lr: number;
  seconds: number;
  peers: PeerStepMetrics[];
}

/** Everything `mat report` reads from a run directory. */
export interface RunData {
  runDir: string;
  /** The resolved run config (config.json), as stored. */
  config: Record<string, unknown>;
  /** Training steps in step order (a resumed run's repeated steps: the last record wins). */
  steps: StepRecord[];
  /** Evaluations during training (per epoch and final), in step order. */
  evals: EvalEvent[];
  summary?: RunSummary;
  /** eval-*.json files written by `mat eval`, oldest step first. */
  evalFiles: Array<EvalFile & { file: string }>;
}

/** Reads a run directory; errors name the file and line that is wrong. */
export function loadRunData(runDir: string): RunData {
  const configFile = path.join(runDir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${runDir}: no config.json; is it a run directory?`);
  const config = readJson(configFile) as Record<string, unknown>;

  const steps = new Map<number, StepRecord>();
  const evals = new Map<string, EvalEvent>();
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  if (fs.existsSync(metricsFile)) {
    const lines = fs.readFileSync(metricsFile, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let record: { type?: string } & Record<string, unknown>;
      try {
        record = JSON.parse(line);
      } catch {
        // A run killed mid-write can leave a partial last line; anything else is corruption.
        if (i === lines.length - 1 || lines.slice(i + 1).every((l) => l.trim() === '')) return;
        throw new Error(`${metricsFile}:${i + 1}: not valid JSON`);
      }
      if (record.type === 'step') steps.set(record.step as number, record as unknown as StepRecord);
      else if (record.type === 'eval') {
        const e = record as unknown as EvalEvent;
        evals.set(`${e.step}:${e.final}`, e);
      }
    });
  }
  const summaryFile = path.join(runDir, 'summary.json');
  const summary = fs.existsSync(summaryFile)
    ? decodeRunSummary(fs.readFileSync(summaryFile, 'utf8'), summaryFile)
    : undefined;
  const evalFiles = fs
    .readdirSync(runDir)
    .filter((f) => /^eval-.*\.json$/.test(f))
    .map((f) => ({ ...readEvalFile(path.join(runDir, f)), file: f }))
    .sort((a, b) => a.step - b.step || a.createdAt.localeCompare(b.createdAt));
  return {
    runDir,
    config,
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    evals: [...evals.values()].sort((a, b) => a.step - b.step || Number(a.final) - Number(b.final)),
    summary,
    evalFiles,
  };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON file (${(e as Error).message})`);
  }
}
