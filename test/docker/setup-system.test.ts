import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// scripts/setup-system.sh as a user without root meets it: what is missing, and the exact command to run.
// A PATH without /usr/sbin hides dockerd and debootstrap, as on a machine without them.

const SCRIPTS = path.join(__dirname, '..', '..', 'scripts');

function asNobody(args: string[], env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-setup-'));
  for (const f of ['setup-system.sh', 'ensure-redis.sh'])
    fs.copyFileSync(path.join(SCRIPTS, f), path.join(dir, f));
  fs.chmodSync(dir, 0o755);
  const vars = Object.entries({ PATH: '/usr/bin:/bin', ...env }).map(([k, v]) => `${k}=${v}`);
  const r = spawnSync(
    'su',
    [
      'nobody',
      '-s',
      '/bin/bash',
      '-c',
      `env ${vars.join(' ')} bash ${dir}/setup-system.sh ${args.join(' ')}`,
    ],
    {
      encoding: 'utf8',
      timeout: 60000,
    },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/setup-system.sh', () => {
  it('without root: says what is missing and why, prints the exact apt-get command, fails', () => {
    const r = asNobody(['docker']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/needed: docker\.io \(Docker engine .*\) debootstrap \(/);
    expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y docker.io debootstrap');
  });

  it('skips everything with MAT_SKIP_SYSTEM_SETUP=1, and rejects an unknown part', () => {
    expect(asNobody(['docker'], { MAT_SKIP_SYSTEM_SETUP: '1' })).toMatchObject({ code: 0 });
    const bad = asNobody(['everything']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown part 'everything' \(start, test or docker\)/);
  });

  it('installs nothing when everything is there (as after `npm test` ran it once)', () => {
    const r = spawnSync('bash', [path.join(SCRIPTS, 'setup-system.sh'), 'start'], { encoding: 'utf8' });
    expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
  });
});
