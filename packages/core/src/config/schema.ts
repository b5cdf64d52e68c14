import { z } from 'zod';
import { ConfigError } from './errors';
import { runNameSchema } from './run-name';

export { ConfigError } from './errors';

/**
 * The one run configuration, with every default in one place. Presets (./presets.ts) override only what
 * differs; CLI flags override presets and config files. Unknown keys are errors, so a typo never silently
 * falls back to a default.
 */

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const attackSchema = z
  .object({
    /** Attack family: `pgd` (projected gradient descent) or `fgsm` (one step). */
    name: z.enum(['pgd', 'fgsm']).default('pgd'),
    /** Threat model. */
    norm: z.enum(['linf', 'l2', 'l1']).default('linf'),
    /** Radius of the perturbation ball, in [0, 1] pixel units. */
    eps: z.number().positive(),
    /** Step size of each iteration; default 2.5·eps/steps for PGD, eps (1.25·eps with a random start) for FGSM. */
    stepSize: z.number().positive().optional(),
    /** Number of iterations of PGD (default 10); FGSM always takes one. */
    steps: positiveInt.optional(),
    /** Start from a random point in the ball (Madry et al.). */
    randomStart: z.boolean().default(true),
    /** Independent restarts; the worst case per sample is kept. */
    restarts: positiveInt.default(1),
  })
  .strict();

/**
 * The run's training and evaluation attacks: absent, they are the defaults given below (prefault); given in
 * part (e.g. only `steps`), eps defaults to 0.1 and the step size to its rule. MAT-MP's types name their eps.
 */
const attackWithDefaultEps = attackSchema.extend({ eps: z.number().positive().default(0.1) });

/**
 * MAT-MP: several perturbation types instead of the one `attack` (Liu et al. 2021, MAT against multiple
 * perturbations; the average / max strategies are Tramer & Boneh's 2019 AVG / MAX):
 * - `fixed`: peer i is trained against attacks[i % attacks.length] only (one specialist per type);
 * - `random`: every step, each peer draws one type, from a stream seeded by (seed, peer, step);
 * - `average`: each peer trains on every type, its base and distillation losses averaged over them;
 * - `max`: each peer trains, per sample, on the type whose example has the highest attack loss.
 */
export const mpSchema = z
  .object({
    strategy: z.enum(['fixed', 'random', 'average', 'max']),
    /** The perturbation types (each a full attack: norm, eps, steps, …). */
    attacks: z.array(attackSchema).min(1, 'list at least one perturbation type'),
  })
  .strict();

const scheduleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('constant') }).strict(),
  z
    .object({
      type: z.literal('piecewise'),
      /** Fractions of the run after which the rate is multiplied by gamma. */
      milestones: z.array(probability).default([0.5, 0.75]),
      gamma: z.number().positive().default(0.1),
    })
    .strict(),
  z
    .object({
      type: z.literal('cosine'),
      /** Linear warm-up, fraction of the run. */ warmup: probability.default(0),
    })
    .strict(),
]);

export const runConfigSchema = z
  .object({
    /** Run name; the run directory is `<outDir>/<name>`. */
    name: runNameSchema.default('mat-run'),
    /** Where runs are written. */
    outDir: z.string().default('runs'),
    /** One seed for everything random: init, data order, augmentation, attack starts. */
    seed: z.number().int().min(0).max(0xffffffff).default(0),
    /** Compute backend: auto picks tensorflow > native > wasm > cpu. */
    backend: z.enum(['auto', 'tensorflow', 'native', 'wasm', 'cpu']).default('auto'),
    data: z
      .object({
        dataset: z.enum(['fashion-mnist', 'mnist', 'cifar10', 'cifar100']).default('fashion-mnist'),
        dataDir: z.string().default('data'),
        /** Use only the first N training samples (quick runs). */
        trainSubset: positiveInt.optional(),
        /** Evaluate on the first N test samples. */
        testSubset: positiveInt.optional(),
        /** Pad-and-random-crop pixels (4 for CIFAR), 0 = off. */
        crop: z.number().int().min(0).max(16).default(0),
        /** Random horizontal flips. */
        flip: z.boolean().default(false),
        /**
         * Check the dataset files against the registry's checksums before training (and download them when
         * missing or different). false: train on the files under dataDir as they are — a stand-in or a
         * repacked copy; loading still checks their format, counts and labels.
         */
        verify: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        arch: z.enum(['fmnist-cnn', 'preact-resnet18', 'resnet18', 'wide-resnet']).default('fmnist-cnn'),
        /** WideResNet depth (6n+4). */
        depth: positiveInt.optional(),
        /** WideResNet widening factor. */
        widen: positiveInt.optional(),
      })
      .strict()
      .prefault({}),
    /** Number of peers; 1 is plain adversarial training. */
    peers: positiveInt.max(64).default(2),
    method: z
      .object({
        /** Base adversarial loss of each peer: Madry AT (CE on x') or TRADES. */
        base: z.enum(['madry', 'trades']).default('madry'),
        /** TRADES β. */
        tradesBeta: z.number().nonnegative().default(6),
        /** Weight of the KL term on the peer's own adversarial examples. */
        lambdaOwn: z.number().nonnegative().default(1),
        /** Weight of the KL term on the other peers' adversarial examples. */
        lambdaPeer: z.number().nonnegative().default(1),
        /** Distillation temperature τ. */
        tau: z.number().positive().default(1),
        /** Ramp λ_own and λ_peer linearly from 0 over the first K steps (0 = full weight from the start).
         * Early on every peer is near-uniform, and distilling from such teachers pulls the group towards the
         * constant solution; a ramp lets each peer first learn from its own adversarial loss. */
        distillWarmupSteps: z.number().int().nonnegative().default(0),
        /** Large N: each peer distils from k peers drawn per step (seeded) instead of all N−1. */
        peerSample: positiveInt.optional(),
      })
      .strict()
      .prefault({}),
    /** The attack that crafts training examples. */
    attack: attackWithDefaultEps.prefault({ eps: 0.1, stepSize: 0.025, steps: 10 }),
    /** MAT-MP perturbation types; when set, they replace `attack` for training (see mpSchema). */
    mp: mpSchema.optional(),
    optim: z
      .object({
        lr: z.number().positive().default(0.05),
        momentum: z.number().min(0).max(1).default(0.9),
        weightDecay: z.number().nonnegative().default(5e-4),
        nesterov: z.boolean().default(false),
        schedule: scheduleSchema.default({ type: 'piecewise', milestones: [0.5, 0.75], gamma: 0.1 }),
      })
      .strict()
      .prefault({}),
    train: z
      .object({
        epochs: positiveInt.default(1),
        batchSize: positiveInt.max(4096).default(128),
        /** Write a checkpoint every K steps (and always at epoch evaluations and at the end); 0 = only there. */
        checkpointEvery: z.number().int().nonnegative().default(0),
        /** Stop after this many steps (debugging, tests). */
        maxSteps: positiveInt.optional(),
        /** Keep the checkpoint at the end of these epochs (1-based) for good, e.g. to evaluate epoch 3 and 10 of
         * a 20-epoch run later (robust overfitting, `mat experiment` evaluation.epochs); other checkpoints are
         * pruned to the newest three. */
        keepEpochs: z.array(positiveInt).max(1000).optional(),
        /** Bounded staleness s of the process runtimes (`--runtime processes`, `mat worker`): at step t a
         * peer may learn from teacher outputs of steps t−s..t instead of waiting for step t's, so a slow
         * peer holds the others back only once they are s steps ahead (docs/distributed.md). 0 = fully
         * synchronous, exactly the in-process trainer's weights; results with s > 0 depend on timing. The
         * in-process trainer is synchronous and rejects s > 0. */
        maxStaleness: z.number().int().nonnegative().max(1000).default(0),
        /** A peer diverged (non-finite loss, logits or weights; core's DivergenceError): 'fail' ends the run
         * as failed, naming the peer and the step; 'rollback' takes every peer back to the last committed
         * checkpoint once, and fails if the run diverges again at the same step. */
        onDivergence: z.enum(['fail', 'rollback']).default('fail'),
      })
      .strict()
      .prefault({}),
    eval: z
      .object({
        /** Evaluate at every epoch end as well as at the end. */
        everyEpoch: z.boolean().default(true),
        batchSize: positiveInt.max(4096).default(256),
        attack: attackWithDefaultEps.prefault({ eps: 0.1, stepSize: 0.01, steps: 20 }),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const { mp, peers } = config;
    const k = config.method.peerSample;
    if (k !== undefined && k > peers - 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['method', 'peerSample'],
        message: `peerSample ${k} is more than the ${peers - 1} other peer(s) a peer can distil from`,
      });
    }
    const s = config.train.maxStaleness;
    if (s > 0 && k !== undefined && k < peers - 1) {
      // A peer's lead over a peer it never samples as a teacher would be unbounded (stale-peer-step.ts).
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'maxStaleness'],
        message:
          `maxStaleness ${s} needs every peer to distil from all others, but method.peerSample is ${k}: ` +
          `use one of the two (or peerSample ${peers - 1})`,
      });
    }
    if (mp?.strategy === 'fixed' && mp.attacks.length > peers) {
      ctx.addIssue({
        code: 'custom',
        path: ['mp', 'attacks'],
        message:
          `strategy 'fixed' gives peer i attacks[i % ${mp.attacks.length}], so with ${peers} peer(s) ` +
          `attacks[${peers}..] would never be used; add peers or use 'random', 'average' or 'max'`,
      });
    }
  });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;
export type AttackConfig = z.infer<typeof attackSchema>;
export type MpConfig = z.infer<typeof mpSchema>;
export type MpStrategy = MpConfig['strategy'];

/**
 * Validates a config object; the error lists every problem with its path, e.g. `optim.lr: must be > 0`,
 * and, when `sourceOf` knows it, where the bad value comes from (e.g. "from config file run.json").
 */
export function parseRunConfig(
  input: unknown,
  source = 'config',
  sourceOf?: (path: readonly PropertyKey[]) => string | undefined,
): RunConfig {
  const result = runConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
      const from = issue.path.length > 0 ? sourceOf?.(issue.path) : undefined;
      return `  ${path}: ${issue.message}${from ? ` (from ${from})` : ''}`;
    });
    throw new ConfigError(`invalid ${source}:\n${problems.join('\n')}`);
  }
  return result.data;
}
