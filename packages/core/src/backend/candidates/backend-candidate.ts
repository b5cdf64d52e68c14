/** The backends MAT can train on, fastest first (the order `auto` tries them in). */
export const BACKEND_NAMES = ['tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** A backend that `prepare` made ready for `tf.setBackend`. */
export interface PreparedBackend {
  /** The name the backend is registered under in tfjs (what `tf.getBackend()` reports once set). */
  tfName: string;
  /** Facts known before initialisation, e.g. which package provided it. */
  details: Record<string, unknown>;
  /** Facts only known once the backend is initialised (e.g. wasm's thread count). */
  describe?: () => Promise<Record<string, unknown>>;
}

/**
 * One way of getting a tfjs backend. `prepare` loads what the backend needs (lazily: optional packages are
 * only touched here) and registers it with tfjs without switching to it; it throws an Error whose message
 * says why the backend is unavailable.
 */
export interface BackendCandidate {
  name: BackendName;
  prepare(): Promise<PreparedBackend>;
}
