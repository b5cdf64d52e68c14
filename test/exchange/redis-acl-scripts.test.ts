import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// scripts/redis-acl.sh and scripts/redis-tls-certs.sh (docs/multi-host.md); that Redis accepts their output
// and enforces the roles is test/multihost/multihost.test.ts's part.

const SCRIPTS = path.join(__dirname, '..', '..', 'scripts');
const run = (script: string, args: string[]) =>
  spawnSync('bash', [path.join(SCRIPTS, script), ...args], { encoding: 'utf8' });

describe('the multi-host Redis scripts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-acl-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('redis-acl.sh: one user per role with the SHA-256 of its password; passwords kept when run again', () => {
    const secrets = path.join(dir, 'secrets');
    const first = run('redis-acl.sh', [secrets]);
    expect(first.status).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
      'user default off',
      'user mat-coordinator on',
      'user mat-worker on',
      'user mat-dashboard on',
    ]);
    for (const role of ['coordinator', 'worker', 'dashboard']) {
      const file = path.join(secrets, `${role}.password`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const password = fs.readFileSync(file, 'utf8');
      expect(password).toMatch(/^[0-9a-f]{48}$/);
      const line = lines.find((l) => l.startsWith(`user mat-${role} `))!;
      expect(line).toContain(`#${createHash('sha256').update(password).digest('hex')}`);
      expect(line).not.toContain(password);
    }
    expect(fs.statSync(secrets).mode & 0o777).toBe(0o700);
    // Run again: the same passwords, so the same file.
    expect(run('redis-acl.sh', [secrets]).stdout).toBe(first.stdout);
    // Another queue prefix replaces bull in the key patterns; a bad one is refused.
    expect(run('redis-acl.sh', [secrets, 'q1']).stdout).toContain('~q1:*');
    const bad = run('redis-acl.sh', [secrets, 'a b*']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/queue prefix must be/);
  });

  it('redis-tls-certs.sh: a CA and a server certificate for the names given; never overwrites', () => {
    const tls = path.join(dir, 'tls');
    const r = run('redis-tls-certs.sh', [tls, '10.1.2.3', 'redis.example']);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(tls).sort()).toEqual(['ca.key', 'ca.pem', 'redis.key', 'redis.pem']);
    for (const key of ['ca.key', 'redis.key'])
      expect(fs.statSync(path.join(tls, key)).mode & 0o777).toBe(0o600);
    const text = spawnSync('openssl', ['x509', '-in', path.join(tls, 'redis.pem'), '-noout', '-text'], {
      encoding: 'utf8',
    }).stdout;
    expect(text).toMatch(/IP Address:10\.1\.2\.3, DNS:redis\.example/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    const verify = spawnSync(
      'openssl',
      ['verify', '-CAfile', path.join(tls, 'ca.pem'), path.join(tls, 'redis.pem')],
      { encoding: 'utf8' },
    );
    expect(verify.stdout.trim()).toBe(`${path.join(tls, 'redis.pem')}: OK`);
    const again = run('redis-tls-certs.sh', [tls, '10.1.2.3']);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists; delete .* to make new certificates/);
    expect(run('redis-tls-certs.sh', [path.join(dir, 'other')]).stderr).toMatch(/name at least one/);
  });
});
