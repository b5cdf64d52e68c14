import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { parseRunConfig, type RunConfig } from '@mat/core';
import { Coordinator, type CoordinatorOptions } from '@mat/coordinator';
import { RunStore, type RunState } from '@mat/exchange';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { waitFor } from './wait-for';

/** A real Coordinator (running, polling every 20 ms) of a small 2-peer run on the shared test Redis. */
export interface TestCoordinator {
  coordinator: Coordinator;
  config: RunConfig;
  runId: string;
  /** Its BullMQ queue prefix. */
  prefix: string;
  /** A connection of the test's own, and the run's store on it. */
  redis: Redis;
  store: RunStore;
  /** Every line the coordinator logged. */
  lines: string[];
  /**
   * Polls the run's state until `accept` takes it (an unreadable or absent state is none); the error of a
   * timeout carries every line the coordinator logged.
   */
  untilState(accept: (s: RunState) => boolean, what: string, timeoutMs?: number): Promise<RunState>;
  /** Detaches and closes the coordinator, deletes the run's keys and its directory. */
  close(): Promise<void>;
}

/** Needs Redis on 127.0.0.1:6379. No workers: a test plays them (slot leases) or forges what it needs. */
export async function startTestCoordinator(
  label: string,
  opts: Partial<CoordinatorOptions> = {},
): Promise<TestCoordinator> {
  const redis = newRedis();
  const runId = uniqueRunId(label);
  const prefix = `test-${runId}`;
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), `mat-${label}-`));
  const lines: string[] = [];
  const config = parseRunConfig({
    name: runId,
    outDir,
    peers: 2,
    data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 10 },
    train: { epochs: 1, batchSize: 16 },
  });
  const coordinator = await Coordinator.start({
    conn: { url: REDIS_URL },
    config,
    queuePrefix: prefix,
    pollMs: 20,
    log: (line) => lines.push(line),
    ...opts,
  });
  coordinator.run().catch(() => {}); // ended by close()
  const store = new RunStore(redis, runId);
  return {
    coordinator,
    config,
    runId,
    prefix,
    redis,
    store,
    lines,
    untilState: (accept, what, timeoutMs = 20000) =>
      waitFor(
        async () => {
          const s = await store.readState().catch(() => undefined);
          return s && accept(s) ? s : undefined;
        },
        what,
        timeoutMs,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the coordinator said:\n${lines.join('\n')}`);
      }),
    async close() {
      coordinator.detach();
      await coordinator.close();
      await deleteRun(redis, runId, prefix);
      redis.disconnect();
      fs.rmSync(outDir, { recursive: true, force: true });
    },
  };
}
