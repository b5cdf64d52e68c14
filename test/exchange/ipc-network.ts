import { IPC_EXCHANGE, IpcPeerExchange, type ExchangeRules, type IpcChannel } from '@mat/exchange';

/** N exchanges wired through an in-memory router, as `mat train --runtime processes` wires its children. */
export function network(
  n: number,
  rules: ExchangeRules,
  logged: string[],
  opts: { maxStaleness?: number } = {},
) {
  const listeners: Array<(m: unknown) => void> = [];
  const deliver = (to: number, m: unknown) => setImmediate(() => listeners[to]?.(m));
  const channel = (self: number): IpcChannel => ({
    send: (m) => {
      if (m.type !== IPC_EXCHANGE) return;
      for (const to of m.to ?? []) deliver(to, { type: IPC_EXCHANGE, bytes: Buffer.from(m.bytes) });
    },
    onMessage: (listener) => {
      listeners[self] = listener;
      return () => delete listeners[self];
    },
  });
  const exchanges = Array.from(
    { length: n },
    (_, p) =>
      new IpcPeerExchange(p, rules, {
        channel: channel(p),
        log: (r) => logged.push(r),
        maxStaleness: opts.maxStaleness,
      }),
  );
  return { exchanges, inject: (to: number, bytes: Uint8Array) => deliver(to, { type: IPC_EXCHANGE, bytes }) };
}
