import { spawn } from 'child_process';
import * as path from 'path';
import { REDIS_URL } from './fake-run';

// `mat dashboard` as a user runs it (the built CLI, as in test/cli): token and Redis URL from the
// environment, never printed; SIGTERM stops it.

const BIN = path.join(__dirname, '..', '..', 'packages', 'cli', 'dist', 'bin.js');

function startDashboard(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'dashboard', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (b) => (output += b));
  child.stderr.on('data', (b) => (output += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const m = /dashboard: (http:\/\/\S+?)\/ /.exec(output);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`mat dashboard exited (${code}): ${output}`)));
  });
  return { child, url, exited, output: () => output };
}

describe('mat dashboard', () => {
  it('serves with the token from MAT_DASHBOARD_TOKEN, never prints it, stops on SIGTERM', async () => {
    const token = `cli-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const d = startDashboard(['--port', '0'], { MAT_DASHBOARD_TOKEN: token, MAT_REDIS_URL: REDIS_URL });
    try {
      const url = await d.url;
      expect((await fetch(`${url}/api/runs`)).status).toBe(401);
      const ok = await fetch(`${url}/api/runs`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(d.output()).toMatch(/token required/);
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
    expect(d.output()).not.toContain(token);
  });

  it('fails with one clear line when Redis is unreachable, without the password', async () => {
    const d = startDashboard(['--port', '0', '--redis-url', 'redis://:hunter2@127.0.0.1:1'], {
      MAT_DASHBOARD_TOKEN: '',
    });
    d.url.catch(() => undefined);
    expect(await d.exited).toBe(1);
    expect(d.output()).toMatch(/error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(password set\)/);
    expect(d.output()).not.toContain('hunter2');
  });

  it('rejects a bad flag value', async () => {
    const d = startDashboard(['--port', '0', '--heartbeat-timeout', '-1'], {});
    d.url.catch(() => undefined);
    expect(await d.exited).toBe(1);
    expect(d.output()).toMatch(/--heartbeat-timeout must be a number > 0/);
  });
});
