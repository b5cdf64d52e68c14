import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, startRedisServer, stopRedisServer, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, tinyConfig, waitFor } from './helpers';
import { Topology } from './topology';

jest.setTimeout(300000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Redis outage of several seconds during a distributed run: each process says once that the connection
 * is lost and once that it is back — no line per reconnection attempt or per queue, no ioredis stack traces
 * — and the run still finishes.
 */
describe('a Redis outage in the logs', () => {
  let dir: string;
  let topology: Topology | undefined;
  let port: number;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-outage-'));
  });
  afterAll(async () => {
    await topology?.close();
    stopRedisServer(port);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('one line when the connection is lost, one when it is back, per process', async () => {
    port = await freePort();
    await startRedisServer(port);
    topology = new Topology(tinyConfig(dir, uniqueRunId('outage'), 2), `redis://127.0.0.1:${port}`);
    const coordinator = topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    const t = topology;
    await waitFor(async () => {
      const steps = [...(await t.peerSteps()).values()].map((s) => s.step);
      return steps.length === 2 && Math.min(...steps) >= 3 ? true : undefined;
    }, 'both peers at step 3');
    stopRedisServer(port);
    await sleep(8000);
    await startRedisServer(port);
    // A coordinator that does not finish is a failure with every process's log, not a silent test timeout.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((r) => (timer = setTimeout(() => r('still running'), 150000)));
    const code = await Promise.race([coordinator.exited, timeout]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`coordinator: ${String(code)} after the outage\n${t.logs()}`);

    for (const p of [coordinator, ...topology.workers]) {
      const lines = p.output().split('\n');
      expect(lines.filter((l) => /Unhandled error event|^\s+at /.test(l))).toEqual([]);
      const refused = lines.filter((l) =>
        /ECONNREFUSED|Connection is closed|connection (to Redis )?lost/i.test(l),
      );
      // The first process-wide report of the loss; nothing per attempt or per connection.
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused.slice(1)).toEqual([]);
      expect(lines.filter((l) => /connected again after/.test(l)).length).toBe(1);
    }
  });
});
