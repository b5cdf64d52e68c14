import { main } from '../../packages/cli/src/main';
import { checkNumericFlag } from '../../packages/cli/src/numeric-flags';
import { workerTimings } from '../../packages/cli/src/commands/worker';

// In-process: main() rejects before any command runs, so nothing connects to Redis or waits.
async function errorOf(args: string[]): Promise<string> {
  try {
    await main(args);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`mat ${args.join(' ')} did not fail`);
}

describe('numeric flags', () => {
  it('mat worker --join-timeout abc is an error naming the flag, not an endless wait', async () => {
    // An unreachable Redis: without the check this fails later, for another reason (or waits forever).
    const redis = ['--redis-url', 'redis://127.0.0.1:1', '--run', 'some-run'];
    expect(await errorOf(['worker', '--join-timeout', 'abc', ...redis])).toBe(
      '--join-timeout must be a number > 0 and <= 10000000 (seconds) (got "abc")',
    );
    for (const bad of ['-1', '0', 'Infinity', '1e999', 'NaN'])
      expect(await errorOf(['worker', `--join-timeout=${bad}`, ...redis])).toMatch(
        new RegExp(`^--join-timeout must be .*\\(got "${bad}"\\)`),
      );
    expect(await errorOf(['worker', '--lease-ms', '2.5', ...redis])).toMatch(
      /^--lease-ms must be an integer >= 300/,
    );
    expect(await errorOf(['worker', '--join-timeout', '5', '--join-timeout', '6', ...redis])).toBe(
      '--join-timeout was given 2 times: give it once',
    );
  });

  it('mat worker --leave-grace: seconds >= 0, checked like the others, given to the worker in ms', async () => {
    const redis = ['--redis-url', 'redis://127.0.0.1:1', '--run', 'some-run'];
    expect(await errorOf(['worker', '--leave-grace', 'abc', ...redis])).toBe(
      '--leave-grace must be a number >= 0 and <= 86400 (seconds) (got "abc")',
    );
    expect(await errorOf(['worker', '--leave-grace=-1', ...redis])).toMatch(/^--leave-grace must be /);
    expect(await errorOf(['worker', '--leave-grace', '1', '--leave-grace', '2', ...redis])).toBe(
      '--leave-grace was given 2 times: give it once',
    );
    expect(workerTimings({ 'lease-ms': 1500, 'join-timeout': 2, 'leave-grace': 4.5 })).toEqual({
      leaseMs: 1500,
      joinTimeoutMs: 2000,
      leaveGraceMs: 4500,
    });
  });

  it('every command: any numeric flag must be one finite number, in range where it has one', async () => {
    expect(await errorOf(['dashboard', '--port', '70000'])).toMatch(
      /^--port must be an integer >= 0 and <= 65535/,
    );
    expect(await errorOf(['dashboard', '--heartbeat-timeout', 'soon'])).toMatch(
      /^--heartbeat-timeout must be/,
    );
    expect(await errorOf(['train', '--preset', 'quick', '--lr', 'abc'])).toBe(
      '--lr must be a number (got "abc")',
    );
    expect(await errorOf(['export', 'runs/x', '--peer', '1.5'])).toMatch(/^--peer must be an integer >= 0/);
    for (const command of [
      ['eval', 'runs/x'],
      ['train', '--preset', 'quick'],
    ])
      expect(await errorOf([...command, '--progress-every', '-1'])).toMatch(
        /^--progress-every must be a number >= 0 and <= 86400 \(seconds\)/,
      );
    expect(await errorOf(['eval', 'runs/x', '--restarts', 'x'])).toMatch(/^--restarts must be a number/);
  });

  it('checkNumericFlag: ranges, integers, bounds', () => {
    expect(checkNumericFlag('n', 3, { min: 3, integer: true })).toBe(3);
    expect(() => checkNumericFlag('n', 3, { min: 3, minExclusive: true })).toThrow(
      '--n must be a number > 3 (got 3)',
    );
    expect(() => checkNumericFlag('n', 4.5, { integer: true, max: 4 })).toThrow(/an integer <= 4/);
    expect(() => checkNumericFlag('n', NaN)).toThrow(/--n must be a number/);
  });
});
