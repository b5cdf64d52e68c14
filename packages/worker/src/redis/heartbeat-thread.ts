import { parentPort, workerData } from 'worker_threads';
import { Job, Queue } from 'bullmq';
import {
  connectRedis,
  GpuPool,
  isConnectionError,
  JOBS,
  QUEUES,
  RunStore,
  type RedisConnection,
  type WorkerRecord,
} from '@mat/exchange';
import type { EvaluationLock, HeartbeatUpdate, HeartbeatEvent } from './heartbeat';

/**
 * Runs in a worker thread of `mat worker`, so that leases are renewed while the main thread is busy in a
 * long synchronous computation (a big model's step, an evaluation). Renews every `intervalMs` with what
 * the main thread last told it, the worker's GPU lease and the lock of the evaluation job it runs (for
 * `leaseMs`, as the slot: a dead worker's job is taken up by another one within about a lease); reports
 * a lost slot and a lost job lock.
 */
interface Init {
  conn: RedisConnection;
  runId: string;
  leaseMs: number;
  intervalMs: number;
  worker: WorkerRecord;
  queuePrefix: string;
  gpu?: { pool: string; device: string };
}

const init = workerData as Init;
const port = parentPort!;
let worker = init.worker;
let slot = { peer: null as number | null, step: 0, status: 'idle' };
let stopped = false;
let evaluation: EvaluationLock | null = null;

port.on('message', (u: HeartbeatUpdate) => {
  if (u.type === 'stop') stopped = true;
  if (u.type === 'update') {
    worker = { ...worker, ...u.worker };
    slot = { ...slot, ...u.slot };
    if (u.evaluation !== undefined) evaluation = u.evaluation;
    void beat();
  }
});

const post = (e: HeartbeatEvent) => port.postMessage(e);
let store: RunStore | undefined;
let gpuPool: GpuPool | undefined;
let gpuLost = false;
let evaluations: Queue | undefined;
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
    if (evaluations && evaluation) await renewEvaluationLock(evaluations, evaluation);
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

/**
 * Extends the evaluation job's lock (BullMQ's own script, which also takes the job off the stalled list).
 * A lock already gone (the job was taken for stalled after a lapse) is reported once: the job's result
 * will be refused and another worker runs it.
 */
async function renewEvaluationLock(queue: Queue, lock: EvaluationLock): Promise<void> {
  const job = new Job(queue, JOBS.evaluate, {}, {}, lock.jobId);
  const held = Number(await job.extendLock(lock.token, init.leaseMs)) === 1;
  if (!held && evaluation === lock) {
    evaluation = null;
    post({
      type: 'error',
      message: `lost the lock of evaluation job ${lock.jobId}; another worker will run it`,
    });
  }
}

void (async () => {
  const redis = await connectRedis(init.conn, { name: `mat-heartbeat-${worker.workerId}` });
  store = new RunStore(redis, init.runId);
  if (init.gpu) gpuPool = new GpuPool(redis, init.gpu.pool);
  evaluations = new Queue(QUEUES.evaluations, { connection: redis, prefix: init.queuePrefix });
  evaluations.on('error', (err) =>
    post({ type: 'error', message: `evaluation queue: ${err.message}`, connection: isConnectionError(err) }),
  );
  await beat();
  const timer = setInterval(() => void beat(), init.intervalMs);
  port.on('message', (u: HeartbeatUpdate) => {
    if (u.type === 'stop') {
      clearInterval(timer);
      // The queue shares this connection (nothing of its own to close).
      redis.disconnect();
      port.close();
    }
  });
})().catch((err: Error) => post({ type: 'error', message: err.message }));
