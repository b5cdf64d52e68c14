import { parentPort, workerData } from 'worker_threads';
import { connectRedis, RunStore, type RedisConnection, type WorkerRecord } from '@mat/exchange';
import type { HeartbeatUpdate, HeartbeatEvent } from './heartbeat';

/**
 * Runs in a worker thread of `mat worker`, so that leases are renewed while the main thread is busy in a
 * long synchronous computation (a big model's step, an evaluation). Renews every `intervalMs` with what
 * the main thread last told it; reports a lost slot.
 */
interface Init {
  conn: RedisConnection;
  runId: string;
  leaseMs: number;
  intervalMs: number;
  worker: WorkerRecord;
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
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  } finally {
    beating = false;
  }
}

void (async () => {
  const redis = await connectRedis(init.conn, { name: `mat-heartbeat-${worker.workerId}` });
  store = new RunStore(redis, init.runId);
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
