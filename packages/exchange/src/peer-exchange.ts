/**
 * How the peers of a MAT step swap tensors. Per step, peer i
 *   publishes 'adv'    x_i'                        [B, H, W, C]  to every teacher j
 *   receives  'adv'    x_j' from every j
 *   publishes 'labels' f_i(x_k') for every peer k  [N, B, K]     (detached teacher outputs)
 *   receives  'labels' from every j, and takes rows i (f_j(x_i')) and j (f_j(x_j')).
 *
 * With bounded staleness (train.maxStaleness s > 0) the same two kinds travel, but a peer never waits
 * for one particular step: it collect()s whatever has arrived within a window of steps (the worker's
 * stale-peer-step.ts says which messages it sends then and why the window suffices).
 *
 * A worker talks only to this interface; the implementations are the embedded one (child processes of one
 * `mat train`, routed over IPC by the parent: ipc-exchange.ts) and Redis (redis-exchange.ts). Both send
 * the bytes of message-codec.ts, so both validate the same way: a malformed, truncated, oversized,
 * unauthenticated (MAC), non-finite, wrong-run, wrong-generation or wrong-step message, and a second
 * message for the same (kind, step, sender) that differs from the first, is rejected with a logged
 * (rate-limited) reason and never handed to training.
 */

import { createHmac } from 'crypto';

export const MESSAGE_KINDS = ['adv', 'labels'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** A float32 tensor as plain data (the exchange knows nothing of tfjs). */
export interface TensorPayload {
  shape: number[];
  data: Float32Array;
}

export interface PeerExchange {
  /** This peer's index. */
  readonly peer: number;
  /** Sends this peer's `kind` tensor of `step` to the peers `to`. */
  publish(kind: MessageKind, step: number, tensor: TensorPayload, to: readonly number[]): Promise<void>;
  /**
   * Waits for the `kind` tensor of `step` from every peer of `from`. Rejected messages are logged and
   * skipped (a valid one may still come). Throws ExchangeAborted when `signal` fires first.
   */
  receive(
    kind: MessageKind,
    step: number,
    from: readonly number[],
    signal?: AbortSignal,
  ): Promise<Map<number, TensorPayload>>;
  /**
   * Bounded staleness: every message addressed to this peer, of either kind and from any sender, with a
   * step in `steps` (inclusive), that has arrived and not been collected yet — validated like receive()'s,
   * oldest step first. With `wait`, first waits until at least one is there, `timeoutMs` passes (then
   * returns none) or `signal` fires (throws ExchangeAborted).
   */
  collect(steps: readonly [number, number], opts?: CollectOptions): Promise<ReceivedMessage[]>;
  /** Starts a new generation (all peers restarted from a common step): older messages are dropped. */
  setGeneration(generation: number): void;
  close(): Promise<void>;
}

export interface CollectOptions {
  wait?: boolean;
  /** Longest wait. @defaultValue no limit */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One collected message. */
export interface ReceivedMessage {
  kind: MessageKind;
  step: number;
  /** Sender. */
  from: number;
  tensor: TensorPayload;
}

/** What an exchange accepts: the run, the shapes of each kind, a size bound. */
export interface ExchangeRules {
  runId: string;
  peerCount: number;
  /** Exact shape of each kind of message, e.g. adv [B,H,W,C], labels [N,B,K]. */
  shapes: Record<MessageKind, readonly number[]>;
  /** Encoded messages larger than this are rejected before decoding. @defaultValue header + shape bytes + 4 KiB */
  maxBytes?: number;
  /**
   * The key of the messages' HMAC (exchangeSecretFromEnv: MAT_EXCHANGE_SECRET). Every peer of a run must
   * have the same; without one (empty) messages are checked for integrity only, not authenticated.
   */
  secret?: string;
}

/** Where workers get the exchange secret: their environment, never Redis (whoever can write Redis could read it). */
export const EXCHANGE_SECRET_ENV = 'MAT_EXCHANGE_SECRET';

/** The exchange secret of this process's environment, or undefined when none is set. */
export function exchangeSecretFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const secret = env[EXCHANGE_SECRET_ENV];
  if (secret === undefined || secret === '') return undefined;
  if (secret.length < 16)
    throw new Error(
      `${EXCHANGE_SECRET_ENV} is too short (${secret.length} characters): use at least 16, e.g. openssl rand -hex 32`,
    );
  return secret;
}

/** What a fingerprint is the HMAC of: a fixed text, so that it tells secrets apart without revealing one. */
const FINGERPRINT_TEXT = 'mat exchange secret fingerprint v1';

/** The fingerprint of a worker without an exchange secret. */
export const NO_SECRET_FINGERPRINT = 'none';

/**
 * A short fingerprint of an exchange secret (HMAC-SHA256 of a fixed text keyed by it, 128 bits in hex; the
 * secret is not recoverable from it), or NO_SECRET_FINGERPRINT without one. Workers of a run compare
 * fingerprints when they join (RunStore.agreeSecretFingerprint): one with another secret would only ever
 * see its messages refused and refuse the others', so it exits naming the mismatch instead.
 */
export function exchangeSecretFingerprint(secret: string | undefined): string {
  if (secret === undefined || secret === '') return NO_SECRET_FINGERPRINT;
  return createHmac('sha256', secret).update(FINGERPRINT_TEXT, 'utf8').digest('hex').slice(0, 32);
}

/** Where rejected messages are reported. */
export type RejectLog = (reason: string, details: Record<string, unknown>) => void;

export const stderrRejectLog: RejectLog = (reason, details) =>
  process.stderr.write(JSON.stringify({ type: 'message-rejected', reason, ...details }) + '\n');

/** Thrown by receive() when its AbortSignal fires: the step is abandoned, nothing was updated. */
export class ExchangeAborted extends Error {
  override name = 'ExchangeAborted';
  constructor(readonly reason: unknown) {
    super(`exchange aborted: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/** The expected shape of each kind of message of a run. */
export function messageShapes(opts: {
  peerCount: number;
  batchSize: number;
  imageShape: readonly [number, number, number];
  numClasses: number;
  /** Rows of x_i' per clean sample (MAT-MP `average` stacks one batch per perturbation type). @defaultValue 1 */
  rowsPerSample?: number;
}): Record<MessageKind, number[]> {
  const rows = opts.batchSize * (opts.rowsPerSample ?? 1);
  return {
    adv: [rows, ...opts.imageShape],
    labels: [opts.peerCount, rows, opts.numClasses],
  };
}
