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
     *   {type:'step', peer, step, loss, base, distill, advAccuracy, lr, stepSeconds, exchangeSeconds}
     *   {type:'eval', peer, step, cleanAccuracy, robustAccuracy, count}
     *   {type:'worker', workerId, event:'joined'|'left'|'lost'|'took-over', peer} */
    metrics: `${base}:metrics`,
    /** Data plane prefix for binary messages of one step (owned by the Redis PeerExchange). */
    dataPrefix: `${base}:data`,
  };
};

/** BullMQ queue names (control plane); jobs carry ids and small JSON only, never tensors. */
export const QUEUES = {
  /** Run lifecycle: create / resume / stop. */
  control: 'mat-control',
  /** Coordinated global checkpoints: one job per checkpoint step. */
  checkpoints: 'mat-checkpoints',
  /** Evaluation jobs: one per (step, peer). */
  evaluations: 'mat-evaluations',
} as const;

/** Index of known runs: a Redis set of run ids. */
export const RUNS_INDEX_KEY = `${KEY_PREFIX}:runs`;
