/**
 * Worker health from the `workers` hash: each worker rewrites its JSON there with a fresh `lastHeartbeat`
 * (ms epoch) every heartbeat. The dashboard only reads it; the coordinator decides when a lease is lost.
 *   ok   — last heartbeat at most timeout/2 ago
 *   late — between timeout/2 and timeout (one or more heartbeats missed)
 *   lost — older than the timeout, or no valid heartbeat at all
 */

import { ContractError, decodeWorkerRecord, type WorkerRecord } from '@mat/exchange';

export type Health = 'ok' | 'late' | 'lost';

export interface WorkerView {
  workerId: string;
  host: string | null;
  pid: number | null;
  peer: number | null;
  backend: string | null;
  status: string | null;
  stepSeconds: number | null;
  lastHeartbeat: number | null;
  /** Seconds since the last heartbeat (null when there is none). */
  heartbeatAgeSeconds: number | null;
  health: Health;
  /** Set when the hash value was not the JSON the workers write. */
  error?: string;
}

export function classifyHeartbeat(lastHeartbeat: number | null, now: number, timeoutMs: number): Health {
  if (lastHeartbeat === null) return 'lost';
  const age = now - lastHeartbeat;
  if (age <= timeoutMs / 2) return 'ok';
  if (age <= timeoutMs) return 'late';
  return 'lost';
}

/**
 * One `workers` hash field (workerId) and its JSON value (the contract of @mat/exchange's
 * contracts/worker-record.ts), as a row of the health table; a record that breaks the contract is shown as
 * lost, with the reason.
 */
export function toWorkerView(workerId: string, json: string, now: number, timeoutMs: number): WorkerView {
  let r: WorkerRecord | undefined;
  let error: string | undefined;
  try {
    r = decodeWorkerRecord(json, `heartbeat record of worker ${workerId.slice(0, 80)}`);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    error = err.message;
  }
  const lastHeartbeat = r?.lastHeartbeat ?? null;
  return {
    workerId,
    host: r?.host ?? null,
    pid: r?.pid ?? null,
    peer: r?.peer ?? null,
    backend: r?.backend ?? null,
    status: r?.status ?? null,
    stepSeconds: r?.stepSeconds ?? null,
    lastHeartbeat,
    heartbeatAgeSeconds: lastHeartbeat === null ? null : Math.max(0, (now - lastHeartbeat) / 1000),
    health: error ? 'lost' : classifyHeartbeat(lastHeartbeat, now, timeoutMs),
    ...(error ? { error } : {}),
  };
}
