import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator';
import { waitFor } from '../helpers/wait-for';

// Needs Redis on 127.0.0.1:6379. A real Coordinator, no workers.
describe('Coordinator: a malformed run state in Redis', () => {
  let t: TestCoordinator | undefined;
  afterEach(async () => {
    await t?.close();
  });

  it('is said once, then replaced by registering the run again from its directory', async () => {
    t = await startTestCoordinator('unreadable', { unreadableGraceMs: 1500 });
    const { store, redis, lines } = t;
    // Registered, and the coordinator has seen it so (its registration polls the state too).
    await waitFor(() => lines.some((l) => /: created/.test(l)), 'the run registered', 20000);
    const first = (await store.readState())!;

    // A forged (or damaged) field: no process of the run can read the state any more.
    await redis.hset(store.keys.state, 'generation', 'many');
    await expect(store.readState()).rejects.toThrow(/generation/);
    const state = await t.untilState(() => true, 'the state registered again');
    expect(state).toMatchObject({ status: 'waiting', generation: 0, runDir: first.runDir });
    expect(state.createdAt).toBeGreaterThan(first.createdAt - 1);
    // One line while it lasted (not one per 20 ms look), one when it was replaced.
    expect(lines.filter((l) => /malformed state of run/.test(l) && !/replacing/.test(l))).toHaveLength(1);
    expect(
      lines.filter((l) => /unreadable for 2 s .*replacing it by registering the run again/.test(l)),
    ).toHaveLength(1);
  }, 60000);
});
