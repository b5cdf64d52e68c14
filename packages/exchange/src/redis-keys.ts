/**
 * The single source of names shared by the coordinator, the workers and the dashboard: Redis keys, streams
 * and BullMQ queue names of a run. Everything of a run lives under `mat:{<runId>}:` (the braces make it one
 * Redis Cluster hash slot).
 */

export const KEY_PREFIX = 'mat';

export const runKeys = (runId: string) => {
  const base = `${KEY_PREFIX}:{${runId}}`;
  return {
    /** String: the run's resolved RunConfig as JSON. */
    config: `${base}:config`,
    /** Hash: status (created|running|stopping|finished|failed), step (last global step completed by all
     * peers), peers, checkpointStep, createdAt, updatedAt, error. */
    state: `${base}:state`,
    /** Hash: peer slot index -> JSON {workerId, leaseUntil (ms epoch), step, status}. */
    slots: `${base}:slots`,
    /** Hash: workerId -> JSON {workerId, host, pid, peer (or null for a spare), backend, lastHeartbeat
     * (ms epoch), status (idle|training|stopping), stepSeconds}. */
    workers: `${base}:workers`,
    /** Stream (XADD, field `m` = JSON): per-peer metrics, one entry per event:
     *   {type:'step', peer, step, generation, loss, base, distill, advAccuracy, lr, stepSeconds,
     *    exchangeSeconds}   (generation: the one the step was taken in; a rollback re-takes steps)
     *    + staleness with train.maxStaleness > 0: the step minus the oldest step of teacher outputs used
     *   {type:'eval', peer, step, cleanAccuracy, robustAccuracy, count}
     *   {type:'worker', workerId, event:'joined'|'claimed'|'left'|'lost'|'took-over', peer} */
    metrics: `${base}:metrics`,
    /** Data plane prefix for binary messages of one step (owned by the Redis PeerExchange). */
    dataPrefix: `${base}:data`,
    /** List (binary msgpack messages, see message-codec.ts): the inbox of peer `to` for one kind of message
     * of one step of one generation. Publishers RPUSH one copy per receiver and set an expiry; the receiver
     * BLPOPs and deletes the list when it has what it needs. */
    inbox: (generation: number, step: number, kind: string, to: number) =>
      `${base}:data:g${generation}:s${step}:${kind}:to${to}`,
    /** Set: peers whose files of the checkpoint at `step` (generation `generation`) are written. */
    checkpointPeers: (generation: number, step: number) => `${base}:ckpt:g${generation}:s${step}`,
  };
};

/**
 * Fields of the `state` hash beyond the dashboard's (status, step, peers, checkpointStep, createdAt,
 * updatedAt, error), written by the coordinator and read by the workers:
 *   generation   increases whenever all peers restart together (start, rollback after a lost worker,
 *                Redis or coordinator restart); every data-plane message carries it
 *   resumeStep   the step every peer of this generation starts from (a committed checkpoint, or 0)
 *   pauseAt      when set, every peer stops after this many steps and checkpoints there (a worker leaving
 *                gracefully, or `mat status --stop`)
 *   lastStep     the step the run ends at
 *   runDir       where checkpoints are written (a filesystem shared by coordinator and workers)
 * Status values: waiting (for every slot to be held) | running | paused | evaluating | finished | stopped
 * | failed.
 */
export const RUN_STATUS = [
  'waiting',
  'running',
  'paused',
  'evaluating',
  'finished',
  'stopped',
  'failed',
] as const;
export type RunStatus = (typeof RUN_STATUS)[number];

/** BullMQ queue names (control plane); jobs carry ids and small JSON only, never tensors. */
export const QUEUES = {
  /** Run lifecycle: create / resume / stop. */
  control: 'mat-control',
  /** Coordinated global checkpoints: one job per checkpoint step. */
  checkpoints: 'mat-checkpoints',
  /** Evaluation jobs: one per (step, peer). */
  evaluations: 'mat-evaluations',
} as const;

/** Job names within the queues (job data is small JSON and always carries `runId`). */
export const JOBS = {
  /** control: {runId} — the coordinator registered a new run. */
  create: 'create',
  /** control: {runId, fromStep} — the coordinator resumed a run (after its own or Redis' restart). */
  resume: 'resume',
  /** control: {runId} — stop the run at the next common step, with a checkpoint. */
  stop: 'stop',
  /** checkpoints: {runId, generation, step, peer, file} — one peer's file of a global checkpoint is written. */
  peerSaved: 'peer-saved',
  /** evaluations: {runId, step, peer, dir} — evaluate one peer of a committed checkpoint. */
  evaluate: 'evaluate',
} as const;

/** Deterministic job ids make every enqueue idempotent (BullMQ ignores an id it already holds). BullMQ
 * forbids ':' in custom ids. */
export const jobIds = {
  peerSaved: (runId: string, generation: number, step: number, peer: number) =>
    `${runId}.ckpt.g${generation}.s${step}.p${peer}`,
  evaluate: (runId: string, step: number, peer: number) => `${runId}.eval.s${step}.p${peer}`,
};

/** BullMQ key prefix. @defaultValue 'bull' (what the dashboard reads unless told otherwise) */
export const DEFAULT_QUEUE_PREFIX = 'bull';

/** Index of known runs: a Redis set of run ids. */
export const RUNS_INDEX_KEY = `${KEY_PREFIX}:runs`;

/**
 * Hash: the GPUs of one machine shared by the `mat worker --gpu auto` processes on it (any run), keyed by
 * device id (an entry of CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES, or the nvidia-smi index) -> JSON
 * {holder (workerId), host, pid, leaseUntil (ms epoch, Redis clock)}. A lease that ran out is free.
 * The pool is named by `--gpu-pool` (default: the hostname), so every worker of a machine shares it.
 */
export const gpuPoolKey = (pool: string) => `${KEY_PREFIX}:gpus:{${pool}}`;
