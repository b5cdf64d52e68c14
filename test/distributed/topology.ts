import type { Redis } from 'ioredis';
import type { RunConfig } from '@mat/core';
import { RunStore } from '@mat/exchange';
import { deleteRun, newRedis } from '../exchange/redis-helpers';
import { spawnMat, writeConfig, type MatProcess } from './helpers';

/** One coordinator and N workers of a run, as scripts/run-local.sh starts them, with handles for faults. */
export class Topology {
  readonly coordinators: MatProcess[] = [];
  readonly workers: MatProcess[] = [];
  readonly redis: Redis;
  readonly store: RunStore;
  private readonly configFile: string;

  constructor(
    readonly config: RunConfig,
    readonly redisUrl: string,
    readonly opts: { leaseMs?: number } = {},
  ) {
    this.configFile = writeConfig(config);
    this.redis = newRedis(redisUrl);
    this.store = new RunStore(this.redis, config.name);
  }

  get prefix(): string {
    return `q-${this.config.name}`;
  }

  private common(): string[] {
    return ['--redis-url', this.redisUrl, '--queue-prefix', this.prefix];
  }

  startCoordinator(): MatProcess {
    const p = spawnMat(['coordinator', '--config', this.configFile, ...this.common()]);
    this.coordinators.push(p);
    return p;
  }

  startWorker(extra: string[] = []): MatProcess {
    // 6 s: short enough for quick fault tests, long enough that heartbeats delayed on a busy machine do not
    // count as lost workers (1.5 s did with the load average near 20, 4 s once at 18).
    const lease = String(this.opts.leaseMs ?? 6000);
    const p = spawnMat([
      'worker',
      '--run',
      this.config.name,
      '--lease-ms',
      lease,
      ...this.common(),
      ...extra,
    ]);
    this.workers.push(p);
    return p;
  }

  /** Steps done by each peer, from the slot leases (-1 before a peer's first step). */
  async peerSteps(): Promise<Map<number, { step: number; pid: number | undefined }>> {
    const slots = await this.store.readSlots();
    const workers = await this.store.readWorkers();
    const out = new Map<number, { step: number; pid: number | undefined }>();
    for (const [peer, s] of slots) {
      out.set(peer, { step: s.step, pid: workers.find((w) => w.workerId === s.workerId)?.pid });
    }
    return out;
  }

  /** Everything every process printed, for failure messages. */
  logs(): string {
    return [
      ...this.coordinators.map((p, i) => `--- coordinator ${i}\n${p.output()}`),
      ...this.workers.map((p, i) => `--- worker ${i}\n${p.output()}`),
    ].join('\n');
  }

  async close(): Promise<void> {
    for (const p of [...this.coordinators, ...this.workers]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await Promise.all([...this.coordinators, ...this.workers].map((p) => p.exited));
    await deleteRun(this.redis, this.config.name, this.prefix).catch(() => {});
    this.redis.disconnect();
  }
}
