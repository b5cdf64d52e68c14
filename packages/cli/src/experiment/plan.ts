import * as path from 'path';
import { mergeLayers, resolveRunConfig, type RunConfig } from '@mat/core';
import { parseSetOverrides } from '../config-file';
import type { ExperimentSpec } from './spec';

/** One run of a study: a configuration at one grid point with one seed. */
export interface PlannedRun {
  /** The run's name (its directory under the study's runs/). */
  name: string;
  /** The configuration's label, e.g. "MAT". */
  label: string;
  /** The grid point: config key path → value (empty without a grid). */
  point: Record<string, unknown>;
  seed: number;
  /** Runs with the same group differ only in their seed: the report averages over them. */
  group: string;
  config: RunConfig;
}

/** Where a study keeps its files: `<outDir>/<name>/` with runs/ and the report. */
export function studyDir(spec: ExperimentSpec): string {
  return path.join(spec.outDir, spec.name);
}

/** The grid's points: the cross product of its values, in the order the spec lists keys and values. */
export function gridPoints(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let points: Array<Record<string, unknown>> = [{}];
  for (const [key, values] of Object.entries(grid)) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}

/** A value as a part of a run name: letters, digits, "_" and "-" only (0.5 → 0p5, true → true). */
function namePart(value: unknown): string {
  // An object with a `type` (an LR schedule, an attack) goes by its type: schedule {type: piecewise, …} → piecewise.
  const typed = value !== null && typeof value === 'object' && 'type' in value ? value.type : undefined;
  const named = typeof typed === 'string' ? typed : value;
  const text = typeof named === 'string' ? named : JSON.stringify(named);
  return text
    .replace(/\./g, 'p')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .slice(0, 24);
}

/** `a.b=value` strings for parseSetOverrides: one mechanism (and one set of key checks) for --set and specs. */
function overrides(set: Record<string, unknown>): Record<string, unknown> {
  return parseSetOverrides(Object.entries(set).map(([key, v]) => `${key}=${JSON.stringify(v)}`));
}

/**
 * Every run of the study, with its resolved config: preset, then the spec's base, then the
 * configuration's keys, then the grid point, then the name, seed and directory the study gives it.
 * Errors name the run whose config is invalid.
 */
export function planStudy(spec: ExperimentSpec, specFile = 'experiment spec'): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const runsDir = path.join(studyDir(spec), 'runs');
  const epochs = spec.evaluation?.epochs;
  for (const configuration of spec.configurations) {
    for (const point of gridPoints(spec.grid)) {
      const pointName = Object.entries(point)
        .map(([key, v]) => `${key.split('.').pop()}${namePart(v)}`)
        .join('-');
      const group = [configuration.label, pointName].filter(Boolean).join('-');
      for (const seed of spec.seeds) {
        const name = `${group}-s${seed}`;
        let config: RunConfig;
        try {
          config = resolveRunConfig({
            preset: spec.preset,
            file: spec.base,
            fileName: specFile,
            overrides: mergeLayers(overrides(configuration.set), overrides(point), {
              name,
              seed,
              outDir: runsDir,
              ...(epochs ? { train: { keepEpochs: epochs } } : {}),
            }),
          });
          const late = epochs?.find((e) => e >= config.train.epochs);
          if (late !== undefined)
            throw new Error(
              `evaluation.epochs holds ${late}, not before the run's last epoch (train.epochs ${config.train.epochs}; the last one is always evaluated)`,
            );
        } catch (e) {
          throw new Error(`run ${name} of ${specFile}: ${(e as Error).message}`);
        }
        runs.push({ name, label: configuration.label, point, seed, group, config });
      }
    }
  }
  const names = runs.map((r) => r.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice)
    throw new Error(
      `${specFile}: two runs would be named ${twice} (grid values that differ only in characters a run name cannot hold); change a value or a label`,
    );
  return runs;
}
