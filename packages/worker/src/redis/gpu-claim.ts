import type { Redis } from 'ioredis';
import { connectRedis, GpuPool, type GpuHolder, type RedisConnection } from '@mat/exchange';
import type { VisibleGpu } from './visible-gpus';

export interface GpuClaimOptions {
  conn: RedisConnection;
  /** The machine's pool name (every worker of one machine must use the same). */
  pool: string;
  /** The machine's GPUs, in the order they are preferred (lowest index first). */
  gpus: VisibleGpu[];
  holder: GpuHolder;
  /** A GPU whose lease is not renewed for this long is free again. */
  leaseMs: number;
  /** How often a worker waiting for a GPU asks again. @defaultValue 1000 */
  pollMs?: number;
  log?: (message: string) => void;
}

/**
 * `mat worker --gpu auto`: one GPU of the machine, leased from its pool in Redis (GpuPool) before the
 * backend is loaded. When every GPU is held the worker waits, as a spare, until one is released or its
 * holder's lease runs out. The lease is renewed from here until release() — the worker's heartbeat thread
 * renews it as well (RedisWorker `gpu` option), because this thread may be busy in a step for longer than
 * a lease.
 */
export class GpuClaim {
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private constructor(
    private readonly redis: Redis,
    private readonly pool: GpuPool,
    readonly gpu: VisibleGpu,
    private readonly opts: GpuClaimOptions,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(opts.leaseMs / 3)));
    // Renewing alone must not keep the process alive.
    this.timer.unref();
  }

  static async claim(opts: GpuClaimOptions): Promise<GpuClaim> {
    if (opts.gpus.length === 0) throw new Error('no GPU to claim');
    const redis = await connectRedis(opts.conn, { log: opts.log, name: `mat-gpu-${opts.holder.holder}` });
    const pool = new GpuPool(redis, opts.pool);
    try {
      const ids = opts.gpus.map((g) => g.id);
      let waiting = false;
      for (;;) {
        const id = await pool.claim(ids, opts.holder, opts.leaseMs);
        if (id !== undefined)
          return new GpuClaim(
            redis,
            pool,
            opts.gpus.find((g) => g.id === id)!,
            opts,
          );
        if (!waiting) {
          opts.log?.(
            `all ${ids.length} GPU(s) of pool "${opts.pool}" are held by other workers: ` +
              'waiting as a spare until one is released or its lease runs out',
          );
          waiting = true;
        }
        await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 1000));
      }
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  /** What the worker's heartbeat thread needs to renew this lease. */
  get lease(): { pool: string; device: string } {
    return { pool: this.opts.pool, device: this.gpu.id };
  }

  private async renew(): Promise<void> {
    try {
      if (!(await this.pool.renew(this.gpu.id, this.opts.holder, this.opts.leaseMs)) && !this.released)
        this.opts.log?.(`GPU ${this.gpu.id} of pool "${this.opts.pool}" was taken by another worker`);
    } catch {
      // Redis unreachable for a moment: the next renewal (or the heartbeat thread's) tries again.
    }
  }

  /** Gives the GPU back to the pool (on exit; a killed worker's lease simply runs out). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    // Not given back (Redis unreachable): the lease runs out by itself, as a killed worker's does.
    await this.pool
      .release(this.gpu.id, this.opts.holder.holder)
      .catch((err: Error) =>
        this.opts.log?.(`giving GPU ${this.gpu.id} back: ${err.message} (its lease runs out)`),
      );
    this.redis.disconnect();
  }
}
