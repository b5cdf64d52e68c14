import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';

/**
 * Several "hosts" on one machine: one network namespace per host, each with its own interface (eth0),
 * address on one private subnet and hostname (a UTS namespace per process), cabled by veth pairs to a bridge in a "switch" namespace. Nothing is
 * added to the machine's own network namespace (both ends of every veth pair are created inside the lab's
 * namespaces), so the lab cannot disturb the machine's routes or collide with its addresses. Processes
 * started on a host share the machine's filesystem (the stand-in for a shared or copied directory) but
 * see only the lab's network.
 *
 * Names carry the creating process's pid and a random part (`matmh-<pid>-<rand>-<host>`), so a lab left
 * behind by a crashed run never collides with the next; `sweepStale()` removes those of dead processes.
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2 and util-linux's unshare.
 */
export class NetnsLab {
  readonly id: string;
  private readonly hosts = new Map<string, { ns: string; ip: string }>();
  private readonly children = new Set<ChildProcess>();
  private readonly switchNs: string;
  private created = false;

  constructor(readonly subnet = '10.77.0') {
    this.id = `matmh-${process.pid}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
    this.switchNs = `${this.id}-sw`;
  }

  /** Removes the namespaces of labs whose creating process is gone (a crashed or killed test run). */
  static sweepStale(): string[] {
    const removed: string[] = [];
    for (const ns of listNamespaces()) {
      const m = /^matmh-(\d+)-/.exec(ns);
      if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
      killNamespace(ns);
      removed.push(ns);
    }
    return removed;
  }

  /** Creates the switch and one namespace per host, `name -> last octet` (e.g. { redis: 1 }). */
  create(hosts: Record<string, number>): void {
    this.created = true;
    ip(['netns', 'add', this.switchNs]);
    ip(['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    for (const [name, octet] of Object.entries(hosts)) {
      const ns = `${this.id}-${name}`;
      const addr = `${this.subnet}.${octet}`;
      ip(['netns', 'add', ns]);
      this.hosts.set(name, { ns, ip: addr });
      // The cable: port `p-<name>` on the switch, eth0 on the host.
      const port = portName(name);
      ip(['-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  ip(host: string): string {
    return this.host(host).ip;
  }

  namespace(host: string): string {
    return this.host(host).ns;
  }

  /** The hostname processes on `host` see (each host has its own UTS namespace too). */
  hostname(host: string): string {
    return `${this.id}-${host}`.slice(-63);
  }

  /** Starts a long-running process on a host; its output is collected. */
  start(host: string, command: string, args: string[], env: Record<string, string> = {}): LabProcess {
    // `unshare --uts` and `exec`: the process gets its host's hostname and keeps the pid spawn() reports.
    const withHostname = ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', this.hostname(host)];
    const child = spawn('ip', ['netns', 'exec', this.host(host).ns, ...withHostname, command, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    child.stderr!.on('data', (d) => (text += d));
    // 'close', not 'exit': the output is complete only once the pipes are closed too.
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => {
        this.children.delete(child);
        resolve(code);
      }),
    );
    return { host, child, output: () => text, exited };
  }

  /** Runs a command on a host to the end (asynchronously: the test's event loop keeps running). */
  async run(
    host: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; output: string; command: string }> {
    const p = this.start(host, command, args, env);
    const code = await p.exited;
    return { code, output: p.output(), command: `${host}: ${command} ${args.join(' ')}` };
  }

  /**
   * The host is lost, as in a power cut: its cable is pulled (the veth pair deleted, so no packet leaves
   * or arrives and no connection is closed properly), every process on it is killed, and its namespace is
   * removed.
   */
  async loseHost(host: string): Promise<void> {
    const { ns } = this.host(host);
    ip(['-n', this.switchNs, 'link', 'del', portName(host)]);
    await killNamespaceAndWait(ns);
    this.hosts.delete(host);
  }

  /** Kills every process of the lab and removes every namespace (and so every veth pair). */
  async destroy(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    if (!this.created) return;
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.switchNs])
      await killNamespaceAndWait(ns);
    this.hosts.clear();
    // Anything the lab made and something above missed (a host added after a failure).
    for (const ns of listNamespaces()) if (ns.startsWith(`${this.id}-`)) killNamespace(ns);
  }

  /** This lab's namespaces that still exist (for the test that cleanup is complete). */
  remaining(): string[] {
    return listNamespaces().filter((ns) => ns.startsWith(`${this.id}-`));
  }

  private host(name: string) {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host "${name}" in the lab`);
    return h;
  }
}

export interface LabProcess {
  host: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Interface names are at most 15 bytes. */
function portName(host: string): string {
  return `p-${host}`.slice(0, 15);
}

function ip(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r;
}

function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n !== '');
}

function pidsIn(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

function killNamespace(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Kills a namespace's processes, waits until they are gone (so its interfaces go), then deletes it. */
async function killNamespaceAndWait(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const pids = pidsIn(ns);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  spawnSync('ip', ['netns', 'del', ns]);
}
