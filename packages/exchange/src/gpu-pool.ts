import type { Redis } from 'ioredis';
import { gpuPoolKey } from './redis-keys';
import { LUA_NOW_MS } from './run-store';

/**
 * The GPUs of one machine as leases in Redis (key: gpuPoolKey), so that the `mat worker --gpu auto`
 * processes of that machine each take a different one. Leases are claimed, renewed and released by Lua
 * scripts on the Redis clock, like the peer slots of run-store.ts: a worker that dies stops renewing, and
 * its GPU is free again once the lease runs out.
 */

export interface GpuHolder {
  /** The worker id (one lease per holder and pool). */
  holder: string;
  host: string;
  pid: number;
}

export interface GpuLease extends GpuHolder {
  /** ms epoch (Redis clock). */
  leaseUntil: number;
}

/** A lease is kept a day past its last renewal at most, so that pools of machines gone away disappear. */
const POOL_TTL_MS = 24 * 3600 * 1000;

/** KEYS: pool; ARGV: holder, leaseMs, holderJson, device ids in preference order. Returns the device this
 * holder already holds, else the first free (or run-out) one, now leased; nil when every one is held. */
const CLAIM = `${LUA_NOW_MS}
local lease = tonumber(ARGV[2])
local take = function(id)
  local rec = cjson.decode(ARGV[3])
  rec.leaseUntil = now + lease
  redis.call('HSET', KEYS[1], id, cjson.encode(rec))
  redis.call('PEXPIRE', KEYS[1], ${POOL_TTL_MS})
  return id
end
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and cjson.decode(v).holder == ARGV[1] then return take(ARGV[i]) end
end
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if (not v) or tonumber(cjson.decode(v).leaseUntil) < now then return take(ARGV[i]) end
end
return false`;

/** KEYS: pool; ARGV: device, holder, leaseMs, holderJson. Renews the lease (or takes the device again if
 * it is free); returns 0 when another holder has it. */
const RENEW = `${LUA_NOW_MS}
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local s = cjson.decode(v)
  if s.holder ~= ARGV[2] and tonumber(s.leaseUntil) >= now then return 0 end
end
local rec = cjson.decode(ARGV[4])
rec.leaseUntil = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('PEXPIRE', KEYS[1], ${POOL_TTL_MS})
return 1`;

/** KEYS: pool; ARGV: device, holder. */
const RELEASE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and cjson.decode(v).holder == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0`;

export class GpuPool {
  readonly key: string;

  constructor(
    readonly redis: Redis,
    readonly name: string,
  ) {
    this.key = gpuPoolKey(name);
  }

  /** Leases the first of `devices` that is free (the one `who` holds already, first); undefined if none is. */
  async claim(devices: readonly string[], who: GpuHolder, leaseMs: number): Promise<string | undefined> {
    if (devices.length === 0) return undefined;
    const id = await this.redis.eval(
      CLAIM,
      1,
      this.key,
      who.holder,
      leaseMs,
      JSON.stringify(who),
      ...devices,
    );
    return id === null ? undefined : String(id);
  }

  /** Renews `who`'s lease on `device`; false when another holder has taken it (after a lapse). */
  async renew(device: string, who: GpuHolder, leaseMs: number): Promise<boolean> {
    const held = await this.redis.eval(RENEW, 1, this.key, device, who.holder, leaseMs, JSON.stringify(who));
    return Number(held) === 1;
  }

  async release(device: string, holder: string): Promise<boolean> {
    return Number(await this.redis.eval(RELEASE, 1, this.key, device, holder)) === 1;
  }

  async read(): Promise<Map<string, GpuLease>> {
    const h = await this.redis.hgetall(this.key);
    return new Map(Object.entries(h).map(([id, json]) => [id, JSON.parse(json) as GpuLease]));
  }
}
