/**
 * Worker health from the `workers` hash: each worker rewrites its JSON there with a fresh `lastHeartbeat`
 * (ms epoch) every heartbeat. The dashboard only reads it; the coordinator decides when a lease is lost.
 *   ok   — last heartbeat at most timeout/2 ago
 *   late — between timeout/2 and timeout (one or more heartbeats missed)
 *   lost — older than the timeout, or no valid heartbeat at all
 */

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

const str = (v: unknown) => (typeof v === 'string' ? v : null);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** One `workers` hash field (workerId) and its JSON value, as a row of the health table. */
export function toWorkerView(workerId: string, json: string, now: number, timeoutMs: number): WorkerView {
  let r: Record<string, unknown> = {};
  let error: string | undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed === 'object' && parsed !== null) r = parsed as Record<string, unknown>;
    else error = 'heartbeat record is not a JSON object';
  } catch {
    error = 'heartbeat record is not valid JSON';
  }
  const lastHeartbeat = num(r.lastHeartbeat);
  const peer = num(r.peer);
  return {
    workerId,
    host: str(r.host),
    pid: num(r.pid),
    peer: peer !== null && Number.isInteger(peer) && peer >= 0 ? peer : null,
    backend: str(r.backend),
    status: str(r.status),
    stepSeconds: num(r.stepSeconds),
    lastHeartbeat,
    heartbeatAgeSeconds: lastHeartbeat === null ? null : Math.max(0, (now - lastHeartbeat) / 1000),
    health: classifyHeartbeat(lastHeartbeat, now, timeoutMs),
    ...(error ? { error } : {}),
  };
}
