import { freePort, startRedisServer, stopRedisServer } from './redis-helpers';

// The helpers that start and restart throwaway Redis servers: a restart must find its port free (ports are
// taken below the ephemeral range) and must never go on against another server that answers on it.
describe('test Redis helpers', () => {
  it('take ports below the ephemeral range, so the system never hands them to anyone else', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(port).toBeLessThan(32000);
    }
  });

  it('refuse a port where another server answers, naming it', async () => {
    const port = await freePort();
    await startRedisServer(port);
    try {
      await expect(startRedisServer(port)).rejects.toThrow(
        new RegExp(
          `port ${port}: another server|port ${port} did not start, or another server holds the port`,
        ),
      );
    } finally {
      stopRedisServer(port);
    }
  }, 30000);
});
