import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../packages/cli/src/main';
import { redisConnection, redisPassword } from '../../packages/cli/src/commands/redis-options';

describe('the Redis password never comes from the command line', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-redis-pw-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--redis-password is refused with the way to do it instead, before anything connects', async () => {
    for (const command of ['worker', 'coordinator', 'status', 'dashboard']) {
      const run = main([command, '--redis-password', 'hunter2', '--redis-url', 'redis://127.0.0.1:1']);
      await expect(run).rejects.toThrow(
        /--redis-password would show the password .*ps.*: set MAT_REDIS_PASSWORD or use --redis-password-file FILE/,
      );
      await expect(run).rejects.not.toThrow(/hunter2/);
    }
  });

  it('--redis-password-file: one line (a trailing newline is not part of it), else an error naming the file', () => {
    const file = path.join(dir, 'pw');
    fs.writeFileSync(file, 's3cret pass\n');
    expect(redisPassword({ 'redis-password-file': file })).toBe('s3cret pass');
    expect(redisConnection({ 'redis-password-file': file, 'queue-prefix': 'bull' }).password).toBe(
      's3cret pass',
    );
    fs.writeFileSync(file, 'line1\nline2\n');
    expect(() => redisPassword({ 'redis-password-file': file })).toThrow(
      /must hold the password on one line/,
    );
    expect(() => redisPassword({ 'redis-password-file': path.join(dir, 'absent') })).toThrow(
      /cannot read --redis-password-file .*absent: ENOENT/,
    );
  });

  it('MAT_REDIS_PASSWORD is the default (what child processes inherit)', () => {
    const before = process.env.MAT_REDIS_PASSWORD;
    process.env.MAT_REDIS_PASSWORD = 'from-env';
    try {
      expect(redisConnection({ 'queue-prefix': 'bull' }).password).toBe('from-env');
    } finally {
      if (before === undefined) delete process.env.MAT_REDIS_PASSWORD;
      else process.env.MAT_REDIS_PASSWORD = before;
    }
  });
});
