import { parentPort, workerData } from 'worker_threads';
import { connectRedis, GpuPool, RunStore, type RedisConnection, type WorkerRecord } from '@mat/exchange';
import type { HeartbeatUpdate, HeartbeatEvent } from './heartbeat';

/**
 * Runs in a worker thread of `mat worker`, so that leases are renewed while the main thread is busy in a
 * long synchronous computation (a big model's step, an evaluation). Renews every `intervalMs` with what
 * the main thread last told it, and the worker's GPU lease; reports a lost slot.
 */
interface Init {
  conn: RedisConnection;
  runId: string;
  leaseMs: number;
  intervalMs: number;
  worker: WorkerRecord;
  gpu?: { pool: string; device: string };
}

const init = workerData as Init;
const port = parentPort!;
let worker = init.worker;
let slot = { peer: null as number | null, step: 0, status: 'idle' };
let stopped = false;

port.on('message', (u: HeartbeatUpdate) => {
  if (u.type === 'stop') stopped = true;
  if (u.type === 'update') {
    worker = { ...worker, ...u.worker };
    slot = { ...slot, ...u.slot };
    void beat();
  }
});

const post = (e: HeartbeatEvent) => port.postMessage(e);
let store: RunStore | undefined;
let gpuPool: GpuPool | undefined;
let gpuLost = false;
let beating = false;

async function beat(): Promise<void> {
  if (!store || beating || stopped) return;
  beating = true;
  try {
    const peer = slot.peer;
    const held = await store.heartbeat(worker, init.leaseMs, slot);
    if (!held && peer !== null && slot.peer === peer) {
      slot = { ...slot, peer: null };
      post({ type: 'lost', peer });
    }
    if (gpuPool && init.gpu) await renewGpu(gpuPool, init.gpu.device);
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  } finally {
    beating = false;
  }
}

/** The GPU cannot change once the backend is loaded: a lost GPU lease (after a lapse) is only reported. */
async function renewGpu(pool: GpuPool, device: string): Promise<void> {
  const who = { holder: worker.workerId, host: worker.host, pid: worker.pid };
  const held = await pool.renew(device, who, init.leaseMs);
  if (!held && !gpuLost) {
    post({ type: 'error', message: `GPU ${device} of pool "${pool.name}" was taken by another worker` });
  }
  gpuLost = !held;
}

void (async () => {
  const redis = await connectRedis(init.conn, { name: `mat-heartbeat-${worker.workerId}` });
  store = new RunStore(redis, init.runId);
  if (init.gpu) gpuPool = new GpuPool(redis, init.gpu.pool);
  await beat();
  const timer = setInterval(() => void beat(), init.intervalMs);
  port.on('message', (u: HeartbeatUpdate) => {
    if (u.type === 'stop') {
      clearInterval(timer);
      redis.disconnect();
      port.close();
    }
  });
})().catch((err: Error) => post({ type: 'error', message: err.message }));
