import * as path from 'path';
import { z } from 'zod';
import {
  ATTACK_NAMES,
  checkConfigKeys,
  ConfigError,
  mergeLayers,
  NORMS,
  runNameSchema,
  type Norm,
} from '@mat/core';
import { parseSetOverrides, readConfigFile } from '../config-file';

/**
 * An experiment spec (`mat experiment spec.json`): a study as data. Every run is one configuration × one
 * point of the grid × one seed, all on top of a preset and a base config; after training, every run's
 * final checkpoint is evaluated with the same attacks. Example:
 *
 *   { "name": "at-vs-mat", "preset": "fmnist",
 *     "base": { "data": { "trainSubset": 30000 } },
 *     "configurations": [ { "label": "AT", "set": { "peers": 1 } }, { "label": "MAT", "set": { "peers": 2 } } ],
 *     "grid": { "train.epochs": [3, 10] },
 *     "seeds": [1, 2],
 *     "evaluation": { "attacks": ["pgd", "apgd-ce", "apgd-t"], "norms": ["linf"], "eps": { "linf": 0.1 },
 *                     "testSubset": 2000 } }
 */

/** A config key path, `a.b.c`, each part a plain identifier. */
const keyPath = z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a config key path like "method.lambdaOwn"`,
});

/** A label is part of run names: the run-name characters, without ".". */
const label = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a valid label: 1 to 40 letters, digits, "_" or "-", starting with a letter or a digit`,
});

const positiveInt = z.number().int().positive();

export const evaluationSchema = z
  .object({
    attacks: z.array(z.enum(ATTACK_NAMES)).min(1).default(['pgd']),
    norms: z
      .array(z.enum(NORMS as [Norm, ...Norm[]]))
      .min(1)
      .optional(),
    /** Radius per norm (default: the dataset's standard radii). */
    eps: z.partialRecord(z.enum(NORMS as [Norm, ...Norm[]]), z.number().positive().finite()).optional(),
    /** PGD / CW iterations. */
    steps: positiveInt.max(10000).optional(),
    apgdSteps: positiveInt.max(10000).optional(),
    /** APGD-T target classes (default 9, AutoAttack's standard version). */
    targets: positiveInt.max(999).optional(),
    /** Also evaluate the checkpoints at the end of these epochs (1-based, before the run's last epoch); the
     * runs keep them (train.keepEpochs). With a constant learning rate, epoch e of a longer run is exactly a
     * run of e epochs (same seed, same batches), so one run gives several training lengths. */
    epochs: z.array(positiveInt).max(100).optional(),
    restarts: positiveInt.max(100).optional(),
    testSubset: positiveInt.optional(),
    batchSize: positiveInt.max(4096).optional(),
    /** Also attack the peers' ensemble. */
    ensemble: z.boolean().default(false),
  })
  .strict();

export const experimentSpecSchema = z
  .object({
    /** The study's directory under outDir. */
    name: runNameSchema,
    /** @defaultValue 'experiments' */
    outDir: z.string().min(1).default('experiments'),
    preset: z.string().optional(),
    /** A partial run config under every run (like a --config file). */
    base: z.record(z.string(), z.unknown()).default({}),
    /** The methods compared, e.g. AT (1 peer) and MAT (2 peers): config keys set per configuration. */
    configurations: z
      .array(z.object({ label, set: z.record(keyPath, z.unknown()).default({}) }).strict())
      .min(1),
    /** Values crossed with every configuration: config key path → values. */
    grid: z.record(keyPath, z.array(z.unknown()).min(1).max(100)).default({}),
    seeds: z
      .array(
        z
          .number()
          .int()
          .nonnegative()
          .max(2 ** 31 - 1),
      )
      .min(1)
      .max(100)
      .default([0]),
    /** `mat eval` of each run's final checkpoint; absent: only the evaluations during training. */
    evaluation: evaluationSchema.optional(),
    /** How each run trains (as `mat train --runtime`). */
    runtime: z.enum(['auto', 'in-process', 'processes']).default('auto'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const labels = spec.configurations.map((c) => c.label);
    const twice = labels.find((l, i) => labels.indexOf(l) !== i);
    if (twice)
      ctx.addIssue({ code: 'custom', path: ['configurations'], message: `label ${twice} is used twice` });
    for (const key of Object.keys(spec.grid)) {
      if (key === 'seed' || key === 'name' || key === 'outDir')
        ctx.addIssue({
          code: 'custom',
          path: ['grid', key],
          message: `${key} is set by the experiment (use "seeds" for seeds)`,
        });
    }
  });

export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;
export type EvaluationSpec = z.infer<typeof evaluationSchema>;

/** Validates a spec; the error lists every problem with its path and names the source. */
export function parseExperimentSpec(input: unknown, source = 'experiment spec'): ExperimentSpec {
  checkConfigKeys(input, source);
  const result = experimentSpecSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      // A bad record key: zod's own message ("Invalid key in record") hides the key's rule.
      const message =
        issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
      return `  ${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${message}`;
    });
    throw new ConfigError(`invalid ${source}:\n${problems.join('\n')}`);
  }
  return result.data;
}

/**
 * Reads and validates a spec file; a relative outDir is taken from the current directory. `set` holds
 * `key.path=value` overrides of the spec itself (`mat experiment --set`), applied before validation, e.g.
 * a smoke run of a GPU study on CPU: `--set base.backend=native --set base.train.epochs=1 --set outDir=/tmp/smoke`.
 */
export function readExperimentSpec(file: string, set: readonly string[] = []): ExperimentSpec {
  const source = `experiment spec ${path.basename(file)}${set.length > 0 ? ' with --set' : ''}`;
  const raw = readConfigFile(file);
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  // A file that is no object is left to the schema, whose error says so.
  return parseExperimentSpec(isObject ? mergeLayers(raw, parseSetOverrides(set)) : raw, source);
}
