import {
  connectRedis,
  describeRedis,
  explainRedisError,
  isConnectionError,
  RedisOutage,
  redisOptions,
} from '@mat/exchange';
import { freePort } from './redis-helpers';

describe('Redis connection options', () => {
  it('reads URL, password, database and TLS; never prints the password', () => {
    const o = redisOptions({ url: 'redis://user:s3cret@redis.example:6390/2' });
    expect(o).toMatchObject({
      host: 'redis.example',
      port: 6390,
      db: 2,
      username: 'user',
      password: 's3cret',
    });
    expect(o.tls).toBeUndefined();
    expect(redisOptions({ url: 'rediss://h:6380', password: 'p' })).toMatchObject({ tls: {}, password: 'p' });
    expect(redisOptions({ url: 'redis://h', tls: true }).tls).toEqual({});
    const text = describeRedis({ url: 'redis://user:s3cret@redis.example:6390/2', password: 'other-secret' });
    expect(text).toBe('redis://user@redis.example:6390/2 (password set)');
    // An ACL user name in the URL with the password apart (as the multi-host recipe does it).
    expect(redisOptions({ url: 'rediss://mat-worker@10.0.0.1:6379', password: 'p' })).toMatchObject({
      username: 'mat-worker',
      password: 'p',
      tls: {},
    });
    expect(describeRedis({ url: 'rediss://mat-worker@10.0.0.1:6379', password: 'p' })).toBe(
      'rediss://mat-worker@10.0.0.1:6379/0 (password set)',
    );
    expect(() => redisOptions({ url: 'http://h' })).toThrow(/must start with redis:\/\/ or rediss:\/\//);
    expect(() => redisOptions({ url: 'not a url' })).toThrow(/not a valid URL/);
    expect(() => redisOptions({ url: 'redis://h', caFile: '/nonexistent/ca.pem' })).toThrow(
      /cannot read the Redis CA file \/nonexistent\/ca.pem: ENOENT/,
    );
  });

  it('an unreachable Redis is a clear error naming the address, without the password', async () => {
    const port = await freePort();
    const err = await connectRedis({ url: `redis://:hunter2@127.0.0.1:${port}` }, { timeoutMs: 1500 }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot reach Redis at redis://127.0.0.1:${port}/0 \\(password set\\): .*ECONNREFUSED`),
    );
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('a refusal for want of ACL rights says what to do; other errors stay as they are', () => {
    for (const refusal of [
      "NOPERM this user has no permissions to run the 'set' command",
      "ERR The user executing the script can't run this command or subcommand script: 80862, on @user_script:507.",
    ])
      expect(explainRedisError(refusal)).toMatch(
        /^.* \(Redis refused this for the ACL user: a read-only user/,
      );
    expect(explainRedisError('connect ECONNREFUSED 127.0.0.1:1')).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('RedisOutage: one line when the connection is lost, one when it is back', () => {
  it('counts the retries of every client without printing them, and says how long it lasted', () => {
    let now = 1000;
    const lines: string[] = [];
    const outage = new RedisOutage('redis://h:1/0', () => now).addLog((l) => lines.push(l));
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const queue = outage.listener('queue q', (l) => lines.push(l));
    outage.back(); // connected, no outage: nothing to say
    for (let i = 0; i < 50; i++) {
      outage.lost('connect ECONNREFUSED 127.0.0.1:1');
      queue(refused);
    }
    now = 25500;
    outage.back();
    outage.back();
    expect(lines).toEqual([
      'redis redis://h:1/0: connection lost (connect ECONNREFUSED 127.0.0.1:1); retrying quietly until it is back',
      'redis redis://h:1/0: connected again after 24.5 s (100 failed attempts)',
    ]);
    // An error that is not the connection's is logged as it is.
    queue(new Error('Missing lock for job 7'));
    expect(lines[2]).toBe('queue q: Missing lock for job 7');
  });

  it('tells connection errors from command errors', () => {
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('connect ETIMEDOUT'))).toBe(true);
    expect(isConnectionError(new Error('WRONGTYPE Operation against a key'))).toBe(false);
  });
});
