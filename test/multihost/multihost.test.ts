import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '@mat/core';
import {
  assertBuilt,
  checkpointState,
  CLI,
  maxAbsDiff,
  referenceState,
  stepLines,
  tinyConfig,
  waitFor,
  writeConfig,
} from '../distributed/helpers';
import { NetnsLab, type LabProcess } from './netns-lab';

// Many processes on a loaded machine: generous (times are never asserted).
jest.setTimeout(400000);

const ROOT = path.resolve(__dirname, '../..');
const REDIS_PORT = 6379;

/**
 * docs/multi-host.md as a test: hosts are network namespaces on one machine (netns-lab.ts), cabled to one
 * switch. Redis runs on its own host from docker/multi-host/redis.conf (TLS only, certificates from
 * scripts/redis-tls-certs.sh, one ACL user per role from scripts/redis-acl.sh) behind the documented
 * firewall rules; the coordinator (with the dashboard) and three workers (two train, one is a hot spare)
 * each run on another host and reach Redis only over the lab network. One training worker's host is lost
 * mid-run (cable pulled, processes killed, namespace removed); the spare takes its peer over and the run
 * ends with exactly the weights of the in-process trainer.
 *
 * The run directory is one directory of this machine that every host sees: it stands in for the shared
 * filesystem (NFS or the like) that the recipe requires.
 */
describe('several hosts against one Redis with TLS and ACL users (network namespaces)', () => {
  let dir: string;
  let lab: NetnsLab | undefined;
  const processes: LabProcess[] = [];

  beforeAll(() => {
    assertBuilt();
    if (process.getuid?.() !== 0)
      throw new Error('the multi-host test makes network namespaces and needs root (CAP_NET_ADMIN)');
    NetnsLab.sweepStale();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-multihost-'));
  });
  afterAll(async () => {
    const left = lab ? (await lab.destroy(), lab.remaining()) : [];
    fs.rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  });

  const logs = () =>
    processes
      .map((p) => `--- ${p.host} ${p.child.spawnargs.slice(3, 5).join(' ')}\n${p.output()}`)
      .join('\n');

  it('trains to the end through the loss of a worker host; every role can do only its part', async () => {
    const config = tinyConfig(dir, `mh-${process.pid}-${Date.now().toString(36)}`, 2);
    const configFile = writeConfig(config);
    // The in-process reference first, while the machine is otherwise quiet.
    const reference = await referenceState(config);

    lab = new NetnsLab();
    const hosts = { redis: 1, coord: 2, w1: 11, w2: 12, w3: 13, outsider: 99 };
    lab.create(hosts);
    const redisIp = lab.ip('redis');

    // --- Redis host: certificates, users, firewall, redis-server (as in docs/multi-host.md).
    const tls = path.join(dir, 'tls');
    const secrets = path.join(dir, 'secrets');
    execFileSync('bash', [path.join(ROOT, 'scripts/redis-tls-certs.sh'), tls, redisIp]);
    const aclFile = path.join(dir, 'users.acl');
    fs.writeFileSync(aclFile, execFileSync('bash', [path.join(ROOT, 'scripts/redis-acl.sh'), secrets]));
    const password = (role: string) => fs.readFileSync(path.join(secrets, `${role}.password`), 'utf8');
    for (const host of ['coord', 'w1', 'w2', 'w3'])
      await mustRun(lab, 'redis', 'iptables', [
        ...['-A', 'INPUT', '-p', 'tcp', '--dport', String(REDIS_PORT), '-s', lab.ip(host), '-j', 'ACCEPT'],
      ]);
    await mustRun(lab, 'redis', 'iptables', [
      ...['-A', 'INPUT', '-p', 'tcp', '--dport', String(REDIS_PORT), '-j', 'REJECT'],
      ...['--reject-with', 'tcp-reset'],
    ]);
    const redisDir = path.join(dir, 'redis');
    fs.mkdirSync(redisDir);
    const redis = lab.start('redis', 'redis-server', [
      path.join(ROOT, 'docker/multi-host/redis.conf'),
      ...['--bind', redisIp],
      ...['--tls-cert-file', path.join(tls, 'redis.pem'), '--tls-key-file', path.join(tls, 'redis.key')],
      ...['--tls-ca-cert-file', path.join(tls, 'ca.pem'), '--aclfile', aclFile],
      ...['--dir', redisDir, '--appendonly', 'no', '--save', ''],
    ]);
    processes.push(redis);

    // redis-cli from a host, as a role (the password from the environment, never on the command line).
    const cli = (host: string, role: string | undefined, args: string[], extra: string[] = ['--tls']) =>
      lab!.run(
        host,
        'redis-cli',
        [...extra, '--cacert', path.join(tls, 'ca.pem'), '-h', redisIp, '-p', String(REDIS_PORT)]
          .concat(role ? ['--user', `mat-${role}`] : [])
          .concat(args),
        role ? { REDISCLI_AUTH: password(role) } : {},
      );
    await waitFor(
      async () => (await cli('coord', 'coordinator', ['PING'])).output.includes('PONG'),
      `Redis to answer:\n${redis.output()}`,
      30000,
    );

    // What each role may not do; what a stranger cannot do at all.
    const refused = await Promise.all([
      cli('coord', 'dashboard', ['SET', 'mat:probe', '1']),
      cli('coord', 'dashboard', ['XADD', `mat:{${config.name}}:metrics`, '*', 'm', '{}']),
      cli('coord', 'dashboard', [
        'EVAL',
        "return redis.call('SET', KEYS[1], '1')",
        '1',
        'bull:mat-control:x',
      ]),
      cli('w1', 'worker', ['SET', `mat:{${config.name}}:config`, '{}']),
      cli('w1', 'worker', ['FLUSHALL']),
      cli('coord', 'coordinator', ['CONFIG', 'SET', 'appendonly', 'no']),
      cli('coord', 'coordinator', ['SET', 'elsewhere', '1']),
      cli('w1', undefined, ['GET', 'mat:runs']),
    ]);
    // (A script is refused with its own wording: "The user executing the script can't run this command".)
    const refusal = /^(NOPERM|NOAUTH|ERR The user executing the script can't)/;
    expect(refused.filter((r) => !refusal.test(r.output))).toEqual([]);
    const plain = await cli('w1', 'worker', ['PING'], []); // no TLS: no answer
    expect(plain.output).not.toContain('PONG');
    const stranger = await cli('outsider', 'worker', ['PING']); // the firewall: not even a TLS handshake
    expect(stranger.output).toMatch(/Connection reset|refused|Could not connect/i);
    expect((await cli('coord', 'dashboard', ['EXISTS', 'mat:runs'])).output).toMatch(/^0/);

    // --- The other hosts: the coordinator with the dashboard, three workers.
    const caFile = path.join(tls, 'ca.pem');
    // The exchange secret (docs/multi-host.md): made once, given to the workers only.
    const exchangeSecret = execFileSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' }).trim();
    const env = (role: string) => ({
      MAT_REDIS_URL: `rediss://mat-${role}@${redisIp}:${REDIS_PORT}`,
      MAT_REDIS_PASSWORD: password(role),
      MAT_REDIS_CA: caFile,
      ...(role === 'worker' ? { MAT_EXCHANGE_SECRET: exchangeSecret } : { MAT_EXCHANGE_SECRET: '' }),
    });
    const node = (host: string, role: string, args: string[]) => {
      const p = lab!.start(host, process.execPath, [CLI, ...args], env(role));
      processes.push(p);
      return p;
    };
    const coordinator = node('coord', 'coordinator', ['coordinator', '--config', configFile]);
    const dashboard = node('coord', 'dashboard', ['dashboard', '--port', '18080', '--host', '127.0.0.1']);
    // Each worker also leases "GPU 0" of its host's pool, which is named after the hostname (--gpu-count 1
    // stands in for nvidia-smi; the wasm backend ignores CUDA_VISIBLE_DEVICES): hosts do not take each
    // other's GPUs, and the pool keys work under the worker's ACL user.
    const workers = ['w1', 'w2', 'w3'].map((h) =>
      node(h, 'worker', [
        // Leases of 4 s: long enough for a machine shared with other work, short enough for a quick test.
        ...['worker', '--run', config.name, '--lease-ms', '4000'],
        ...['--gpu', 'auto', '--gpu-count', '1'],
      ]),
    );

    // Lose the host of a training worker at a random (seeded) step.
    const lossStep = 5 + new Rng(4242).int(8); // 5..12 of 20
    const runDir = path.join(dir, config.name);
    await waitFor(
      () => liveSteps(runDir) >= lossStep || coordinator.child.exitCode !== null,
      `step ${lossStep}`,
    );
    // Who holds the peers now (the slots, read as the dashboard user); the others are spares.
    const slots = (await cli('coord', 'dashboard', ['HGETALL', `mat:{${config.name}}:slots`])).output;
    const holders = new Set([...slots.matchAll(/"workerId":"([^"]+)"/g)].map((m) => m[1]));
    const idOf = (w: LabProcess) => /worker (\S+) joined run/.exec(w.output())?.[1];
    const victim = workers.find((w) => holders.has(idOf(w) ?? ''));
    const spare = workers.find((w) => idOf(w) !== undefined && !holders.has(idOf(w) ?? ''));
    if (!victim || !spare) throw new Error(`expected peers held and a spare (slots ${slots}):\n${logs()}`);
    const spareBefore = spare.output().length;
    await lab.loseHost(victim.host);
    expect(await victim.exited).toBeNull(); // killed, not exited

    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : logs() }).toEqual({ code: 0, logs: '' });
    // The spare took over the lost worker's peer (a slot first held in an earlier generation).
    expect(spare.output().slice(spareBefore)).toMatch(/took over peer \d/);
    for (const w of workers) expect(w.output()).toContain(`GPU 0 of pool "${lab.hostname(w.host)}"`);
    expect(spare).toBeDefined();
    const { step, values } = checkpointState(config);
    expect(step).toBe(20);
    expect(maxAbsDiff(values, reference.values)).toBeLessThanOrEqual(1e-5);
    expect(stepLines(runDir).map((l) => l.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    // The run took a second generation after the loss (the stream, read as the read-only dashboard user).
    const stream = await cli('coord', 'dashboard', ['XRANGE', `mat:{${config.name}}:metrics`, '-', '+']);
    expect(stream.output).toMatch(/"event":"lost"/);
    // The dashboard, logged in as the read-only user, shows the finished run.
    const api = await lab.run('coord', process.execPath, [
      '-e',
      `fetch('http://127.0.0.1:18080/api/runs/${config.name}').then(async (r) => console.log(r.status, await r.text()))`,
    ]);
    expect(api.output).toMatch(/^200 /);
    expect(JSON.parse(api.output.slice(4))).toMatchObject({ status: 'finished' });
    expect(dashboard.output()).not.toMatch(/NOPERM|error/i);
    // The Docker healthcheck connects the same way (ACL user, password, CA file).
    const health = await lab.run(
      spare.host,
      process.execPath,
      [path.join(ROOT, 'docker/healthcheck.js'), 'redis'],
      env('worker'),
    );
    expect(health).toMatchObject({ code: 0, output: 'healthy: Redis answers\n' });
    // So does `mat doctor`'s Redis check.
    const doctor = await lab.run(spare.host, process.execPath, [CLI, 'doctor', '--json'], env('worker'));
    expect(JSON.parse(doctor.output).redis).toEqual({
      url: `rediss://mat-worker@${redisIp}:${REDIS_PORT}/0 (password set)`,
      ok: true,
    });
    // Writing as the read-only user is refused, with what to do.
    const stop = await lab.run(
      'coord',
      process.execPath,
      [CLI, 'status', config.name, '--stop'],
      env('dashboard'),
    );
    expect(stop.code).toBe(1);
    expect(stop.output).toMatch(
      /Redis refused this for the ACL user: a read-only user such as mat-dashboard/,
    );
    // `mat status` needs no more than the read-only user.
    const status = await lab.run('coord', process.execPath, [CLI, 'status', config.name], env('dashboard'));
    expect(status).toMatchObject({ code: 0, output: expect.stringMatching(/finished/) });
    expect(logs()).not.toMatch(/NOPERM|rejected a message|MAT_EXCHANGE_SECRET is not set/);
  });
});

async function mustRun(lab: NetnsLab, host: string, command: string, args: string[]): Promise<void> {
  const r = await lab.run(host, command, args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} on ${host} failed: ${r.output}`);
}

/** The highest step in a run's live metrics.jsonl (a line being appended, or an empty file, is skipped). */
function liveSteps(runDir: string): number {
  let text = '';
  try {
    text = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return 0;
  }
  let max = 0;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { type?: string; step?: number };
      if (entry.type === 'step' && typeof entry.step === 'number') max = Math.max(max, entry.step);
    } catch {
      // partial or empty line
    }
  }
  return max;
}
