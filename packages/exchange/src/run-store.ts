import type { Redis } from 'ioredis';
import { RUNS_INDEX_KEY, runKeys, type RunStatus } from './redis-keys';

/**
 * A run's control state in Redis (the keys of redis-keys.ts), with the atomic operations the coordinator
 * and the workers need: slot leases are claimed, renewed, released and expired by Lua scripts that read
 * the clock of Redis itself, so machines with skewed clocks still agree on who holds a slot.
 */

export interface RunState {
  status: RunStatus;
  generation: number;
  resumeStep: number;
  /** Every peer stops after this many steps, with a checkpoint (undefined: no pause pending). */
  pauseAt?: number;
  /** Set with pauseAt when the run stops there for good (`mat status --stop`). */
  stopRequested?: boolean;
  lastStep: number;
  totalSteps: number;
  /** Steps done by the slowest peer of the current generation. */
  step: number;
  peers: number;
  checkpointStep: number;
  runDir: string;
  createdAt: number;
  updatedAt: number;
  error?: string;
  /** When the stop was asked for (ms epoch, the coordinator's clock): a stop not settled in time is forced. */
  stopRequestedAt?: number;
  /** The first divergence a worker reported (reportDivergence), until the coordinator acts on it. */
  divergence?: ReportedDivergence;
  /** The step of the divergence that caused the run's last rollback (train.onDivergence 'rollback'). */
  rolledBackFrom?: number;
}

/** A peer diverged (core's DivergenceError) in `generation`: reported by its worker to the coordinator. */
export interface ReportedDivergence {
  peer: number;
  /** The step that diverged (1-based). */
  step: number;
  generation: number;
  reason: string;
}

export interface SlotLease {
  workerId: string;
  /** ms epoch (Redis clock). */
  leaseUntil: number;
  step: number;
  status: string;
}

export interface WorkerRecord {
  workerId: string;
  host: string;
  pid: number;
  /** The slot held, or null for a spare. */
  peer: number | null;
  backend: string;
  /** ms epoch (Redis clock), set by the heartbeat script. */
  lastHeartbeat?: number;
  status: 'idle' | 'training' | 'evaluating' | 'stopping';
  stepSeconds?: number;
  /** CUDA_VISIBLE_DEVICES when the backend was loaded (`mat worker --gpu`), if set. */
  gpu?: string;
}

/** Lua prelude: `now` = the Redis server's clock in ms, the one clock every lease is measured on. */
export const LUA_NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: slots; ARGV: workerId, leaseMs, peers. Returns the peer slot held (an existing one first), or -1. */
const CLAIM = `${LUA_NOW_MS}
local peers = tonumber(ARGV[3])
for p = 0, peers - 1 do
  local v = redis.call('HGET', KEYS[1], p)
  if v and cjson.decode(v).workerId == ARGV[1] then return p end
end
for p = 0, peers - 1 do
  if redis.call('HEXISTS', KEYS[1], p) == 0 then
    redis.call('HSET', KEYS[1], p, cjson.encode({workerId = ARGV[1], leaseUntil = now + tonumber(ARGV[2]), step = -1, status = 'claimed'}))
    return p
  end
end
return -1`;

/** KEYS: slots, workers; ARGV: workerId, leaseMs, peer (-1: none), step, status, workerJson.
 * Renews the lease if this worker still holds the slot; always refreshes the worker record. Returns 1
 * when the slot is no longer this worker's. */
const RENEW = `${LUA_NOW_MS}
local lost = 0
local peer = tonumber(ARGV[3])
if peer >= 0 then
  local v = redis.call('HGET', KEYS[1], peer)
  if (not v) or cjson.decode(v).workerId ~= ARGV[1] then
    lost = 1
  else
    redis.call('HSET', KEYS[1], peer, cjson.encode({workerId = ARGV[1], leaseUntil = now + tonumber(ARGV[2]), step = tonumber(ARGV[4]), status = ARGV[5]}))
  end
end
local w = cjson.decode(ARGV[6])
w.lastHeartbeat = now
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(w))
return lost`;

/** KEYS: slots; ARGV: peer, workerId. */
const RELEASE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and cjson.decode(v).workerId == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0`;

/** KEYS: slots; ARGV: grace ms. Removes leases that ran out; returns [peer, workerId, ...]. */
const EXPIRE = `${LUA_NOW_MS}
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local s = cjson.decode(all[i + 1])
  if tonumber(s.leaseUntil) + tonumber(ARGV[1]) < now then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(out, all[i])
    table.insert(out, s.workerId)
  end
end
return out`;

/** KEYS: state; ARGV: step. pauseAt = min(pauseAt, step). Returns the pause step. */
const PAUSE = `local cur = redis.call('HGET', KEYS[1], 'pauseAt')
local at = tonumber(ARGV[1])
if cur and cur ~= '' and tonumber(cur) < at then at = tonumber(cur) end
redis.call('HSET', KEYS[1], 'pauseAt', at)
return at`;

/** KEYS: set; ARGV: peer, ttl s. Adds one peer's saved file and returns how many are saved. */
const COUNT_SAVED = `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('SCARD', KEYS[1])`;

const NUMBER_FIELDS = ['generation', 'resumeStep', 'pauseAt', 'lastStep', 'totalSteps', 'step', 'peers'];
const MORE_NUMBERS = ['checkpointStep', 'createdAt', 'updatedAt', 'stopRequestedAt', 'rolledBackFrom'];

/** KEYS: state; ARGV: divergence JSON. Records the first divergence of a run only (HSETNX). */
const REPORT_DIVERGENCE = `return redis.call('HSETNX', KEYS[1], 'divergence', ARGV[1])`;

export class RunStore {
  readonly keys: ReturnType<typeof runKeys>;

  constructor(
    readonly redis: Redis,
    readonly runId: string,
  ) {
    this.keys = runKeys(runId);
  }

  async readState(): Promise<RunState | undefined> {
    const h = await this.redis.hgetall(this.keys.state);
    if (!h.status) return undefined;
    const out: Record<string, unknown> = { ...h };
    for (const f of [...NUMBER_FIELDS, ...MORE_NUMBERS]) {
      out[f] = h[f] === undefined || h[f] === '' ? undefined : Number(h[f]);
    }
    out.stopRequested = h.stopRequested === '1';
    out.divergence = h.divergence ? parseDivergence(h.divergence) : undefined;
    out.checkpointStep = out.checkpointStep ?? 0;
    return out as unknown as RunState;
  }

  /** Sets fields of the state (undefined clears a field) and `updatedAt`. */
  async writeState(fields: Partial<RunState>): Promise<void> {
    const set: Record<string, string> = { updatedAt: String(Date.now()) };
    const clear: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) clear.push(k);
      else if (typeof v === 'object') set[k] = JSON.stringify(v);
      else set[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    }
    const tx = this.redis.multi().hset(this.keys.state, set);
    if (clear.length > 0) tx.hdel(this.keys.state, ...clear);
    await tx.exec();
  }

  /** Registers a run: its config, its state, its place in the run index. */
  async create(config: unknown, state: RunState): Promise<void> {
    await this.redis.del(this.keys.state, this.keys.slots);
    await this.redis.set(this.keys.config, JSON.stringify(config));
    await this.writeState(state);
    await this.redis.sadd(RUNS_INDEX_KEY, this.runId);
  }

  async readConfig(): Promise<unknown | undefined> {
    const text = await this.redis.get(this.keys.config);
    return text === null ? undefined : JSON.parse(text);
  }

  async claimSlot(workerId: string, leaseMs: number, peers: number): Promise<number | undefined> {
    const p = Number(await this.redis.eval(CLAIM, 1, this.keys.slots, workerId, leaseMs, peers));
    return p >= 0 ? p : undefined;
  }

  /** Heartbeat: renews the lease on `peer` (if any) and the worker record. Returns false if the slot is lost. */
  async heartbeat(
    worker: WorkerRecord,
    leaseMs: number,
    slot: { peer: number | null; step: number; status: string },
  ): Promise<boolean> {
    const lost = await this.redis.eval(
      RENEW,
      2,
      this.keys.slots,
      this.keys.workers,
      worker.workerId,
      leaseMs,
      slot.peer ?? -1,
      slot.step,
      slot.status,
      JSON.stringify(worker),
    );
    return Number(lost) === 0;
  }

  async releaseSlot(peer: number, workerId: string): Promise<boolean> {
    return Number(await this.redis.eval(RELEASE, 1, this.keys.slots, peer, workerId)) === 1;
  }

  async forgetWorker(workerId: string): Promise<void> {
    await this.redis.hdel(this.keys.workers, workerId);
  }

  /** Removes leases that ran out more than `graceMs` ago (Redis clock); returns whose they were. */
  async expireLeases(graceMs = 0): Promise<Array<{ peer: number; workerId: string }>> {
    const flat = (await this.redis.eval(EXPIRE, 1, this.keys.slots, graceMs)) as string[];
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ peer: Number(flat[i]), workerId: flat[i + 1] });
    return out;
  }

  async readSlots(): Promise<Map<number, SlotLease>> {
    const h = await this.redis.hgetall(this.keys.slots);
    return new Map(Object.entries(h).map(([peer, json]) => [Number(peer), JSON.parse(json) as SlotLease]));
  }

  async readWorkers(): Promise<WorkerRecord[]> {
    const h = await this.redis.hgetall(this.keys.workers);
    return Object.values(h).map((json) => JSON.parse(json) as WorkerRecord);
  }

  /** A worker's peer diverged: recorded for the coordinator unless another divergence is pending. */
  async reportDivergence(divergence: ReportedDivergence): Promise<boolean> {
    return (
      Number(await this.redis.eval(REPORT_DIVERGENCE, 1, this.keys.state, JSON.stringify(divergence))) === 1
    );
  }

  /** Asks every peer to stop after `step` steps (an earlier pending pause wins). */
  async requestPause(step: number): Promise<number> {
    return Number(await this.redis.eval(PAUSE, 1, this.keys.state, step));
  }

  /** Records that `peer` wrote its checkpoint file; returns how many peers of that checkpoint have. */
  async countSaved(generation: number, step: number, peer: number): Promise<number> {
    const key = this.keys.checkpointPeers(generation, step);
    return Number(await this.redis.eval(COUNT_SAVED, 1, key, peer, 24 * 3600));
  }

  /** Appends one entry to the metrics stream (field `m` = JSON), keeping about the newest 100k. */
  async addMetric(entry: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(this.keys.metrics, 'MAXLEN', '~', 100000, '*', 'm', JSON.stringify(entry));
  }

  /** Deletes the data-plane messages of a generation nobody will read any more. */
  async deleteGeneration(generation: number): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.keys.dataPrefix}:g${generation}:*`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }
}

/** The divergence field of a run's state; a malformed one is reported as such rather than dropped. */
function parseDivergence(text: string): ReportedDivergence {
  try {
    const d = JSON.parse(text) as ReportedDivergence;
    if (Number.isInteger(d.peer) && Number.isInteger(d.step) && Number.isInteger(d.generation)) return d;
  } catch {
    // Reported below with the text itself.
  }
  return {
    peer: -1,
    step: -1,
    generation: -1,
    reason: `a malformed divergence report: ${text.slice(0, 200)}`,
  };
}
