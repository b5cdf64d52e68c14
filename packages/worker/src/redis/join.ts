import * as os from 'os';
import { randomBytes } from 'crypto';
import type { Redis } from 'ioredis';
import {
  EXCHANGE_SECRET_ENV,
  exchangeSecretFingerprint,
  NO_SECRET_FINGERPRINT,
  RUNS_INDEX_KEY,
  runKeys,
  type RunStore,
} from '@mat/exchange';

const TERMINAL = new Set(['finished', 'stopped', 'failed']);

/** A worker id unique across machines and restarts: host, pid and a random suffix. */
export function newWorkerId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The one active (not ended) run in Redis, waited for; several are an error naming them. */
export async function findActiveRun(
  redis: Redis,
  timeoutMs: number,
  pollMs: number,
  clock: () => number,
): Promise<string> {
  return waitFor(
    async () => {
      const ids = await redis.smembers(RUNS_INDEX_KEY);
      const active = [];
      for (const id of ids) {
        const status = await redis.hget(runKeys(id).state, 'status');
        if (status && !TERMINAL.has(status)) active.push(id);
      }
      if (active.length > 1)
        throw new Error(`several runs are active (${active.sort().join(', ')}): name one with --run`);
      return active[0];
    },
    { timeoutMs, pollMs, clock },
    () => new Error('no active run in Redis: start one with mat coordinator, or name it with --run'),
  );
}

/** Waits until the run exists and is not stopped or failed (a stopped run waits for its coordinator). */
export async function waitForRun(
  store: RunStore,
  opts: { timeoutMs: number; pollMs: number; clock: () => number },
): Promise<unknown> {
  const raw = await waitFor(
    () => store.readConfig(),
    opts,
    () => new Error(`run "${store.runId}" does not exist in Redis (start it with mat coordinator)`),
  );
  await waitFor(
    async () => {
      const status = (await store.readState())?.status;
      return status === 'stopped' || status === 'failed' ? undefined : true;
    },
    opts,
    () => new Error(`run "${store.runId}" is stopped: start its coordinator again to resume it`),
  );
  return raw;
}

/**
 * Checks that this worker's exchange secret is the one the run's workers use (by fingerprint, set in the
 * run state by the first worker: the secret itself never goes to Redis). A worker with another secret
 * would refuse every message of the others and they its, and the run would wait on it: it is an error
 * naming the mismatch instead. Checked at join and before each slot claim (a re-registered run starts
 * without a fingerprint).
 */
export async function checkExchangeSecret(store: RunStore, secret: string | undefined): Promise<void> {
  const mine = exchangeSecretFingerprint(secret);
  const theirs = await store.agreeSecretFingerprint(mine);
  if (theirs === undefined || theirs === mine) return;
  const advice = `every worker of a run needs the same ${EXCHANGE_SECRET_ENV}, or none`;
  const prefix = `${EXCHANGE_SECRET_ENV} mismatch with the workers of run ${store.runId}`;
  if (theirs === NO_SECRET_FINGERPRINT)
    throw new Error(`${prefix}: they have none and this worker has one (fingerprint ${mine}); ${advice}`);
  if (mine === NO_SECRET_FINGERPRINT)
    throw new Error(`${prefix}: they have one (fingerprint ${theirs}) and this worker has none; ${advice}`);
  throw new Error(`${prefix}: this worker's secret has fingerprint ${mine}, theirs ${theirs}; ${advice}`);
}

/** Polls `probe` until it returns a value other than undefined, or throws `onTimeout()`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; pollMs: number; clock: () => number },
  onTimeout: () => Error,
): Promise<T> {
  const until = opts.clock() + opts.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (opts.clock() > until) throw onTimeout();
    await sleep(opts.pollMs);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
