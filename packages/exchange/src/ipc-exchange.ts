import type { ChildProcess } from 'child_process';
import { encodeMessage } from './message-codec';
import { MessageInbox } from './message-inbox';
import {
  ExchangeAborted,
  stderrRejectLog,
  type CollectOptions,
  type ExchangeRules,
  type MessageKind,
  type PeerExchange,
  type ReceivedMessage,
  type RejectLog,
  type TensorPayload,
} from './peer-exchange';

/**
 * The embedded exchange: the peers are child processes of one `mat train` (child_process.fork with
 * serialization 'advanced', so the encoded messages cross the pipe as binary). A child sends
 * {type:'mat-exchange', to, bytes} to its parent, whose router (routeExchange below) forwards the bytes
 * to each receiver as {type:'mat-exchange', bytes}. No Redis, no network.
 */

export const IPC_EXCHANGE = 'mat-exchange';
/** Sent by a child's exchange once it listens; the router holds that child's messages until then. */
export const IPC_EXCHANGE_LISTENING = 'mat-exchange-listening';

export interface IpcExchangeMessage {
  type: typeof IPC_EXCHANGE;
  to?: number[];
  bytes: Uint8Array;
}

export function isIpcExchangeMessage(m: unknown): m is IpcExchangeMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === IPC_EXCHANGE;
}

const isListening = (m: unknown) =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === IPC_EXCHANGE_LISTENING;

/** The two ends of the channel: by default this process's IPC with its parent. */
export interface IpcChannel {
  send(message: IpcExchangeMessage | { type: typeof IPC_EXCHANGE_LISTENING }): void;
  onMessage(listener: (message: unknown) => void): () => void;
}

export const parentChannel = (): IpcChannel => {
  if (!process.send) throw new Error('IpcPeerExchange: this process has no IPC channel (start it with fork)');
  return {
    send: (message) => process.send!(message),
    onMessage: (listener) => {
      process.on('message', listener);
      return () => process.off('message', listener);
    },
  };
};

export class IpcPeerExchange implements PeerExchange {
  private readonly inbox: MessageInbox;
  private readonly unsubscribe: () => void;
  /**
   * The step this peer works on (the newest it published). Senders are at most one step ahead, or with
   * bounded staleness s, within s steps behind and s + 1 ahead (stale-peer-step.ts in the worker explains
   * the bound); anything outside is rejected.
   */
  private step: number;
  private readonly staleness: number;
  private readonly channel: IpcChannel;

  constructor(
    readonly peer: number,
    private readonly rules: ExchangeRules,
    opts: {
      generation?: number;
      startStep?: number;
      /** train.maxStaleness of the run. @defaultValue 0 */
      maxStaleness?: number;
      log?: RejectLog;
      channel?: IpcChannel;
    } = {},
  ) {
    this.channel = opts.channel ?? parentChannel();
    this.inbox = new MessageInbox(rules, opts.log ?? stderrRejectLog, peer);
    this.inbox.reset(opts.generation ?? 1);
    this.step = opts.startStep ?? 0;
    this.staleness = opts.maxStaleness ?? 0;
    this.unsubscribe = this.channel.onMessage((m) => {
      if (!isIpcExchangeMessage(m)) return;
      const s = this.staleness;
      this.inbox.offer(m.bytes, { steps: [Math.max(0, this.step - s), this.step + s + 1] }, 'ipc');
    });
    this.channel.send({ type: IPC_EXCHANGE_LISTENING });
  }

  get rejected(): number {
    return this.inbox.rejected;
  }

  async publish(
    kind: MessageKind,
    step: number,
    tensor: TensorPayload,
    to: readonly number[],
  ): Promise<void> {
    this.advanceTo(step);
    if (to.length === 0) return;
    const bytes = encodeMessage(
      { run: this.rules.runId, gen: this.inbox.generation, step, peer: this.peer, kind, shape: tensor.shape },
      tensor,
      this.rules.secret ?? '',
    );
    this.channel.send({ type: IPC_EXCHANGE, to: [...to], bytes });
  }

  async receive(
    kind: MessageKind,
    step: number,
    from: readonly number[],
    signal?: AbortSignal,
  ): Promise<Map<number, TensorPayload>> {
    this.advanceTo(step);
    for (;;) {
      const got = this.inbox.take(kind, step, from);
      if (got) return got;
      if (signal?.aborted) throw new ExchangeAborted(signal.reason);
      await this.inbox.next(signal);
    }
  }

  async collect(steps: readonly [number, number], opts: CollectOptions = {}): Promise<ReceivedMessage[]> {
    const until = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const got = this.inbox.takeRange(steps[0], steps[1]);
      if (got.length > 0 || !opts.wait) return got;
      if (opts.signal?.aborted) throw new ExchangeAborted(opts.signal.reason);
      const left = until - Date.now();
      if (left <= 0) return got;
      await this.inbox.next(opts.signal, Number.isFinite(left) ? left : undefined);
    }
  }

  setGeneration(generation: number): void {
    this.inbox.reset(generation);
  }

  /** Moves to `step` (never back within a generation) and forgets messages too old to be accepted. */
  private advanceTo(step: number): void {
    if (step > this.step) {
      this.step = step;
      this.inbox.dropBefore(step - this.staleness);
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
  }
}

/**
 * Parent side: forwards every child's exchange messages to the children it names. A child that does not
 * listen yet (still loading its data) gets its messages once it does, in order.
 */
export function routeExchange(children: readonly ChildProcess[], log: RejectLog = stderrRejectLog): void {
  const held: Array<Uint8Array[] | undefined> = children.map(() => []);
  const deliver = (to: number, bytes: Uint8Array) => {
    const target = children[to];
    if (held[to]) held[to]!.push(bytes);
    else if (target.connected) target.send({ type: IPC_EXCHANGE, bytes });
  };
  children.forEach((child, sender) => {
    child.on('message', (m: unknown) => {
      if (isListening(m)) {
        const queued = held[sender] ?? [];
        held[sender] = undefined;
        for (const bytes of queued) deliver(sender, bytes);
      }
      if (!isIpcExchangeMessage(m)) return;
      for (const to of m.to ?? []) {
        if (!Number.isInteger(to) || !children[to] || to === sender) {
          log(`bad receiver ${String(to)}`, { sender });
          continue;
        }
        deliver(to, m.bytes);
      }
    });
  });
}
