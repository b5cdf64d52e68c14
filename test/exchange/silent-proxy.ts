import * as net from 'net';

/**
 * A TCP proxy in front of a Redis that can make its open connections vanish without a word: silence()
 * stops forwarding on every connection open at that moment and closes none of them (no FIN, no RST), as
 * when a Redis container's network is torn down before its kernel sends the FIN. A client sees no error and
 * waits for a reply that never comes. Connections made after silence() are forwarded normally (the
 * restarted Redis answering under the same name).
 */
export class SilentProxy {
  private readonly server: net.Server;
  private readonly open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly silenced: net.Socket[] = [];
  /** Connections accepted so far (a reconnect shows as one more). */
  accepted = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<SilentProxy> {
    const proxy = new SilentProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      this.open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Every open connection goes silent: nothing more is forwarded either way, and nothing is closed. */
  silence(): void {
    for (const { client, upstream } of this.open) {
      for (const s of [client, upstream]) s.removeAllListeners('close').removeAllListeners('error');
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.on('data', () => {}); // read and drop: the client's writes never fail
      client.on('error', () => {});
      upstream.on('error', () => {});
      upstream.destroy(); // Redis forgets the connection; the client is not told
      this.silenced.push(client);
    }
    this.open.clear();
  }

  async close(): Promise<void> {
    for (const s of this.silenced) s.destroy();
    for (const { client, upstream } of this.open) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
