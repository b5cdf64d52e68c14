import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../rng';
import type { NamedVariable } from '../model';

/** Fills the initial values of one tensor of `shape`, drawing every random number from `rng`. */
export type Initializer = (shape: readonly number[], rng: Rng) => Float32Array;

/** What a layer declares: enough to count, name and initialise a weight without allocating it. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** true: a trainable parameter; false: a buffer (batch-norm running statistics). */
  readonly trainable: boolean;
  readonly init: Initializer;
}

/**
 * A declared weight. The variable exists only after `ParamBuilder.materialise`, so a model's structure can be
 * declared (and its parameters counted) without allocating anything — WRN-34-10 has 46M parameters.
 */
export class ParamSlot {
  private v: tf.Variable | null = null;

  constructor(readonly spec: ParamSpec) {}

  get variable(): tf.Variable {
    if (this.v === null) throw new Error(`parameter ${this.spec.name} is used before it was materialised`);
    return this.v;
  }

  /** @internal called by ParamBuilder.materialise */
  bind(v: tf.Variable): void {
    this.v = v;
  }
}

/** 32-bit FNV-1a of a parameter name: the per-parameter part of its random stream. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Collects the weights a model declares, under dotted names (`layer1.0.conv1.kernel`), then creates them.
 *
 * Seeding: the values of a weight named `n` come from `Rng.derive(seed, hashName(n))`, generated in JavaScript.
 * So the same seed gives bit-identical initial weights on every backend, and a weight's values do not depend on
 * how many other weights were declared before it.
 */
export class ParamBuilder {
  private readonly slots: ParamSlot[];
  private readonly names: Set<string>;

  constructor(
    private readonly prefix = '',
    shared?: { slots: ParamSlot[]; names: Set<string> },
  ) {
    this.slots = shared?.slots ?? [];
    this.names = shared?.names ?? new Set();
  }

  /** A builder that declares into the same model with `prefix.` prepended to every name. */
  scope(prefix: string): ParamBuilder {
    return new ParamBuilder(this.qualify(prefix), { slots: this.slots, names: this.names });
  }

  param(name: string, shape: readonly number[], init: Initializer): ParamSlot {
    return this.declare(name, shape, init, true);
  }

  buffer(name: string, shape: readonly number[], init: Initializer): ParamSlot {
    return this.declare(name, shape, init, false);
  }

  get specs(): readonly ParamSpec[] {
    return this.slots.map((s) => s.spec);
  }

  /**
   * Creates every declared variable, seeded as described above. `skipInit` fills zeros instead, generating no
   * random numbers: for a model whose weights are loaded right afterwards.
   */
  materialise(seed: number, skipInit = false): { params: NamedVariable[]; buffers: NamedVariable[] } {
    const params: NamedVariable[] = [];
    const buffers: NamedVariable[] = [];
    for (const slot of this.slots) {
      const { name, shape, trainable, init } = slot.spec;
      // No tf-level variable name: several models (the MAT peers) share the engine, and names must be unique there.
      const variable = tf.tidy(() => {
        const values = skipInit
          ? tf.zeros(shape as number[], 'float32')
          : tf.tensor(init(shape, Rng.derive(seed, hashName(name))), shape as number[], 'float32');
        return tf.variable(values, trainable);
      });
      slot.bind(variable);
      (trainable ? params : buffers).push({ name, variable });
    }
    return { params, buffers };
  }

  private qualify(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}.${name}`;
  }

  private declare(name: string, shape: readonly number[], init: Initializer, trainable: boolean): ParamSlot {
    const full = this.qualify(name);
    if (this.names.has(full)) throw new Error(`duplicate parameter name ${full}`);
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`parameter ${full} has invalid shape [${shape.join(', ')}]`);
    }
    this.names.add(full);
    const slot = new ParamSlot({ name: full, shape: [...shape], trainable, init });
    this.slots.push(slot);
    return slot;
  }
}
