import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_CANDIDATES, BACKEND_NAMES, type BackendName } from './candidates';
import { registerCpuKernels } from './register-cpu-kernels';
import { registerTrainingGradients } from './register-gradients';

/** What the user asks for (`mat train --backend …`); `auto` takes the fastest that works here. */
export type BackendRequest = 'auto' | BackendName;
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', ...BACKEND_NAMES];

export interface BackendInfo {
  /** The active tfjs backend, as `tf.getBackend()` reports it. */
  name: string;
  /** Which of MAT's backends provides it (differs from `name` only if a package registers another name). */
  selected: BackendName;
  requested: BackendRequest;
  /** Version of @tensorflow/tfjs-core. */
  tfjsVersion: string;
  /** Backends tried before the chosen one, each with the reason it was passed over. */
  reasonsSkipped: Record<string, string>;
  /** Backend-specific facts, e.g. for wasm: simd, multithread, binary, threadsCount. */
  details: Record<string, unknown>;
}

export function isBackendRequest(value: string): value is BackendRequest {
  return (BACKEND_REQUESTS as readonly string[]).includes(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Prepares one backend, switches tfjs to it and returns its details; throws with the reason on failure. */
async function activate(name: BackendName): Promise<Record<string, unknown>> {
  const prepared = await BACKEND_CANDIDATES[name].prepare();
  const initialised = await tf.setBackend(prepared.tfName);
  if (!initialised) {
    throw new Error(
      `tfjs could not initialise backend '${prepared.tfName}' (its warning above has the cause)`,
    );
  }
  return { ...prepared.details, ...(await prepared.describe?.()) };
}

/**
 * Switches tfjs to the requested backend and makes it ready for training (gradients registered, missing
 * wasm kernels added). `auto` tries tensorflow → native → wasm → cpu and keeps the first that initialises;
 * an explicit request that cannot be met throws an Error naming the backend and the reason.
 *
 * Tensors created before the switch stay valid (tfjs moves their data on first use), but for speed create
 * models and data after selecting the backend.
 */
export async function selectBackend(requested: BackendRequest = 'auto'): Promise<BackendInfo> {
  if (!isBackendRequest(requested)) {
    throw new Error(`unknown backend '${String(requested)}': expected one of ${BACKEND_REQUESTS.join(', ')}`);
  }
  registerTrainingGradients();
  registerCpuKernels();
  const previous = tf.getBackend() as string | undefined;
  const order: readonly BackendName[] = requested === 'auto' ? BACKEND_NAMES : [requested];
  const reasonsSkipped: Record<string, string> = {};
  for (const name of order) {
    try {
      const details = await activate(name);
      return {
        name: tf.getBackend(),
        selected: name,
        requested,
        tfjsVersion: tf.version_core,
        reasonsSkipped,
        details,
      };
    } catch (error) {
      reasonsSkipped[name] = messageOf(error);
    }
  }
  // A failed tf.setBackend leaves tfjs without a usable backend; go back to the one that worked.
  if (previous != null) await tf.setBackend(previous);
  if (requested !== 'auto') {
    throw new Error(`backend '${requested}' is unavailable: ${reasonsSkipped[requested]}`);
  }
  const summary = Object.entries(reasonsSkipped).map(([name, reason]) => `${name}: ${reason}`);
  throw new Error(`no backend could be initialised (${summary.join('; ')})`);
}

export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  /** Why the backend is unavailable. */
  reason?: string;
  /** What selectBackend would report in BackendInfo.details. */
  details?: Record<string, unknown>;
}

/**
 * Tries every backend (for `mat doctor`). It initialises each one, so it switches tfjs through them and
 * then back to the backend that was active before (cpu if none was).
 */
export async function listAvailableBackends(): Promise<BackendAvailability[]> {
  registerTrainingGradients();
  const previous = tf.getBackend() as string | undefined;
  const results: BackendAvailability[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      results.push({ name, available: true, details: await activate(name) });
    } catch (error) {
      results.push({ name, available: false, reason: messageOf(error) });
    }
  }
  await tf.setBackend(previous ?? 'cpu');
  return results;
}
