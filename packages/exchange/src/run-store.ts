import type { Redis } from 'ioredis';
import { parseJsonText } from './contracts/contract';
import { checkRunId } from './contracts/fields';
import { encodeMetricsEntry, METRICS_FIELD, type MetricsEntryInput } from './contracts/metrics-entry';
import {
  decodeRunState,
  encodeDivergence,
  encodeStateUpdate,
  type ReportedDivergence,
  type RunState,
} from './contracts/run-state';
import { decodeSlotField, decodeSlotLease, type SlotLease } from './contracts/slot-lease';
import { decodeWorkerRecord, encodeWorkerRecord, type WorkerRecord } from './contracts/worker-record';
import { RUNS_INDEX_KEY, runKeys } from './redis-keys';

export type { ReportedDivergence, RunState, SlotLease, WorkerRecord };

/**
 * A run's control state in Redis (the keys of redis-keys.ts), with the atomic operations the coordinator
 * and the workers need: slot leases are claimed, renewed, released and expired by Lua scripts that read
 * the clock of Redis itself, so machines with skewed clocks still agree on who holds a slot.
 */

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

/**
 * A run's state exists while its `status` field does (decodeRunState). Every change of an existing state
 * goes through a script that checks this first: a write queued by a client while Redis was down, and sent
 * when it came back empty (a restart without persistence), must not create a state of a few fields, which
 * every reader would then refuse as malformed instead of seeing a run to register again. Only create()
 * writes a state that is not there.
 */
const STATE_EXISTS = `if redis.call('HEXISTS', KEYS[1], 'status') == 0 then return -1 end`;

/** KEYS: state; ARGV: n, then n field/value pairs to set, then fields to delete. 1, or -1 without a state. */
const UPDATE_STATE = `${STATE_EXISTS}
local n = tonumber(ARGV[1])
for i = 2, 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 2 * n + 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1`;

/** KEYS: state; ARGV: step. pauseAt = min(pauseAt, step). Returns the pause step (-1 without a state). */
const PAUSE = `${STATE_EXISTS}
local cur = redis.call('HGET', KEYS[1], 'pauseAt')
local at = tonumber(ARGV[1])
if cur and cur ~= '' and tonumber(cur) < at then at = tonumber(cur) end
redis.call('HSET', KEYS[1], 'pauseAt', at)
return at`;

/** KEYS: set; ARGV: peer, ttl s. Adds one peer's saved file and returns how many are saved. */
const COUNT_SAVED = `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('SCARD', KEYS[1])`;

/** KEYS: state; ARGV: fingerprint. Sets the run's secret fingerprint unless it has one; returns the run's
 * (false for a run without a state). */
const AGREE_FINGERPRINT = `if redis.call('HEXISTS', KEYS[1], 'status') == 0 then return false end
redis.call('HSETNX', KEYS[1], 'secretFingerprint', ARGV[1])
return redis.call('HGET', KEYS[1], 'secretFingerprint')`;

/** KEYS: state; ARGV: divergence JSON. Records the first divergence of a run only (HSETNX). */
const REPORT_DIVERGENCE = `${STATE_EXISTS}
return redis.call('HSETNX', KEYS[1], 'divergence', ARGV[1])`;

export class RunStore {
  readonly keys: ReturnType<typeof runKeys>;

  constructor(
    readonly redis: Redis,
    readonly runId: string,
  ) {
    checkRunId(runId);
    this.keys = runKeys(runId);
  }

  /** The run's state (contracts/run-state.ts); undefined when Redis has none; a ContractError when malformed. */
  async readState(): Promise<RunState | undefined> {
    return decodeRunState(
      await this.redis.hgetall(this.keys.state),
      `state of run ${this.runId} (${this.keys.state})`,
    );
  }

  /**
   * Sets fields of an existing state (undefined clears a field) and `updatedAt`. Returns false, changing
   * nothing, when the run has no state (Redis lost it): the coordinator registers it again.
   */
  async writeState(fields: Partial<RunState>): Promise<boolean> {
    const { set, clear } = this.encodeState(fields);
    const pairs = Object.entries(set).flat();
    const args = [pairs.length / 2, ...pairs, ...clear];
    return Number(await this.redis.eval(UPDATE_STATE, 1, this.keys.state, ...args)) === 1;
  }

  /** Registers a run: its config, its state (replacing any), its place in the run index. */
  async create(config: unknown, state: RunState): Promise<void> {
    const { set } = this.encodeState(state);
    await this.redis.del(this.keys.state, this.keys.slots);
    await this.redis.set(this.keys.config, JSON.stringify(config));
    await this.redis.hset(this.keys.state, set);
    await this.redis.sadd(RUNS_INDEX_KEY, this.runId);
  }

  /** Deletes the state (a malformed one the coordinator replaces by registering the run again). */
  async discardState(): Promise<void> {
    await this.redis.del(this.keys.state);
  }

  private encodeState(fields: Partial<RunState>) {
    return encodeStateUpdate({ ...fields, updatedAt: Date.now() }, `state update of run ${this.runId}`);
  }

  /** The stored config as JSON (checked by parseRunConfig where it is used); undefined when none. */
  async readConfig(): Promise<unknown | undefined> {
    const text = await this.redis.get(this.keys.config);
    return text === null
      ? undefined
      : parseJsonText(text, `config of run ${this.runId} (${this.keys.config})`);
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
      encodeWorkerRecord(worker),
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

  /** The slot leases by peer; a malformed one is a ContractError naming the slot. */
  async readSlots(): Promise<Map<number, SlotLease>> {
    const h = await this.redis.hgetall(this.keys.slots);
    return new Map(
      Object.entries(h).map(([field, json]) => {
        const what = `slot ${field.slice(0, 20)} of run ${this.runId} (${this.keys.slots})`;
        return [decodeSlotField(field, what), decodeSlotLease(json, what)];
      }),
    );
  }

  /** The worker records; a malformed one is a ContractError naming the worker. */
  async readWorkers(): Promise<WorkerRecord[]> {
    const h = await this.redis.hgetall(this.keys.workers);
    return Object.entries(h).map(([id, json]) =>
      decodeWorkerRecord(
        json,
        `record of worker ${id.slice(0, 80)} of run ${this.runId} (${this.keys.workers})`,
      ),
    );
  }

  /**
   * A worker's peer diverged: recorded for the coordinator unless another divergence is pending (false), or
   * the run has no state (false: Redis lost it, and the peers start again from a checkpoint anyway).
   */
  async reportDivergence(divergence: ReportedDivergence): Promise<boolean> {
    return (
      Number(await this.redis.eval(REPORT_DIVERGENCE, 1, this.keys.state, encodeDivergence(divergence))) === 1
    );
  }

  /**
   * The fingerprint of the exchange secret the run's workers use (exchangeSecretFingerprint): `mine` when
   * this worker is the first to tell, else the one already there, which a worker with another one must
   * not join with. Undefined when the run has no state.
   */
  async agreeSecretFingerprint(mine: string): Promise<string | undefined> {
    encodeStateUpdate({ secretFingerprint: mine }, `secret fingerprint of run ${this.runId}`);
    const theirs = (await this.redis.eval(AGREE_FINGERPRINT, 1, this.keys.state, mine)) as string | null;
    return theirs ?? undefined;
  }

  /** Asks every peer to stop after `step` steps (an earlier pending pause wins); -1 when the run has no state. */
  async requestPause(step: number): Promise<number> {
    return Number(await this.redis.eval(PAUSE, 1, this.keys.state, step));
  }

  /** Records that `peer` wrote its checkpoint file; returns how many peers of that checkpoint have. */
  async countSaved(generation: number, step: number, peer: number): Promise<number> {
    const key = this.keys.checkpointPeers(generation, step);
    return Number(await this.redis.eval(COUNT_SAVED, 1, key, peer, 24 * 3600));
  }

  /** Appends one entry (contracts/metrics-entry.ts) to the metrics stream, keeping about the newest 100k. */
  async addMetric(entry: MetricsEntryInput): Promise<void> {
    const json = encodeMetricsEntry(entry);
    await this.redis.xadd(this.keys.metrics, 'MAXLEN', '~', 100000, '*', METRICS_FIELD, json);
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
