import { createHmac, timingSafeEqual } from 'crypto';
import { Packr } from 'msgpackr';
import { ContractError, parseContract } from './contracts/contract';
import {
  EXCHANGE_FIELDS,
  exchangeHeaderSchema,
  MAC_BYTES,
  MESSAGE_VERSION,
} from './contracts/exchange-header';
import type { ExchangeRules, MessageKind, TensorPayload } from './peer-exchange';

export { MESSAGE_VERSION } from './contracts/exchange-header';

/**
 * One data-plane message: a msgpack map whose `data` is the tensor's raw little-endian float32 bytes, a
 * msgpack `bin` (4 bytes a number, no JSON, no base64; any msgpack library reads it):
 *
 *   { v: 2, run, gen, step, peer, kind, shape: [..], dtype: 'float32', mac: <bin 32>, data: <bin> }
 *
 * (A raw `bin` rather than msgpackr's typed-array extension: that one is chosen by `instanceof`, which fails
 * for arrays made in another JS realm — vm contexts, jest — and would silently encode a map of numbers.
 * Decoding accepts the extension too.)
 *
 * `mac` is the HMAC-SHA256, keyed by the exchange secret (MAT_EXCHANGE_SECRET, which every worker of a run
 * gets from its environment, never from Redis), of the canonical header text — run, generation, step,
 * sender, kind, shape — followed by the data bytes. So a message is bound to its run, sender and step, a
 * flipped bit anywhere is caught, and nobody without the secret can make a message a receiver accepts
 * (a CRC would stop only accidents). Decoding checks, in this order and before any payload value is used:
 * the byte size, the header's fields (contracts/exchange-header.ts), run, generation, step, sender, kind,
 * the declared shape and the data size it implies, the MAC, then that every value is finite. Any problem is
 * a MessageRejected whose message is the reason; it names the sender and step when the header had them.
 */

export interface MessageHeader {
  run: string;
  /** Generation of the run (see redis-keys.ts): messages of an abandoned generation are stale. */
  gen: number;
  step: number;
  /** Sender. */
  peer: number;
  kind: MessageKind;
  shape: number[];
}

export interface ExchangeMessage extends MessageHeader {
  data: Float32Array;
  /** The message's MAC: two accepted messages with the same (kind, step, sender) must have the same one. */
  mac: Buffer;
}

export class MessageRejected extends Error {
  override name = 'MessageRejected';
  constructor(
    message: string,
    /** What the header claimed, when it was readable: who sent it, for which step. */
    readonly claimed: { sender?: number; step?: number; kind?: string } = {},
  ) {
    super(message);
  }
}

/** The key the MACs of a run are made with: the secret as UTF-8 (an empty one authenticates nothing). */
export type ExchangeSecret = string;

// useRecords: false keeps plain msgpack maps, so no record definitions are shared between processes.
const packr = new Packr({ moreTypes: true, useRecords: false });

function computeMac(secret: ExchangeSecret, h: MessageHeader, data: Uint8Array): Buffer {
  const text = `mat-exchange|${MESSAGE_VERSION}|${h.run}|${h.gen}|${h.step}|${h.peer}|${h.kind}|${h.shape.join('x')}|float32|`;
  return createHmac('sha256', secret).update(text, 'utf8').update(data).digest();
}

export function encodeMessage(header: MessageHeader, tensor: TensorPayload, secret: ExchangeSecret): Buffer {
  if (tensor.data.length !== shapeSize(tensor.shape)) {
    throw new Error(
      `encodeMessage: data has ${tensor.data.length} values, shape [${tensor.shape}] needs ${shapeSize(tensor.shape)}`,
    );
  }
  const h = { ...header, shape: tensor.shape.slice() };
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return packr.pack({
    v: MESSAGE_VERSION,
    run: h.run,
    gen: h.gen,
    step: h.step,
    peer: h.peer,
    kind: h.kind,
    shape: h.shape,
    dtype: 'float32',
    mac: computeMac(secret, h, data),
    data,
  });
}

/** What a receiver expects besides the run's rules. */
export interface Expectation {
  generation: number;
  /** Accepted steps, inclusive (a peer of the embedded runtime may already be one step ahead). */
  steps: readonly [number, number];
  /** Accepted kinds; all when omitted. */
  kind?: MessageKind;
}

/** Decodes and validates one message; throws MessageRejected with the reason. */
export function decodeMessage(bytes: Uint8Array, rules: ExchangeRules, expect: Expectation): ExchangeMessage {
  const maxBytes = rules.maxBytes ?? defaultMaxBytes(rules);
  if (!isTyped(bytes, 'Uint8Array')) throw new MessageRejected('not binary data');
  if (bytes.length > maxBytes) {
    throw new MessageRejected(`oversized: ${bytes.length} bytes, at most ${maxBytes} accepted`);
  }
  let map: Record<string, unknown>;
  try {
    const value: unknown = packr.unpack(bytes);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value))
      throw new Error('not a map');
    map = value as Record<string, unknown>;
  } catch (err) {
    throw new MessageRejected(`malformed or truncated: ${(err as Error).message}`);
  }
  const claimed = {
    sender: isInt(map.peer) ? map.peer : undefined,
    step: isInt(map.step) ? map.step : undefined,
    kind: typeof map.kind === 'string' ? map.kind.slice(0, 20) : undefined,
  };
  const reject = (reason: string) => new MessageRejected(reason, claimed);
  const keys = Object.keys(map);
  const missing = EXCHANGE_FIELDS.filter((k) => !Object.prototype.hasOwnProperty.call(map, k));
  const extra = keys.filter((k) => !EXCHANGE_FIELDS.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    const unexpected = extra.slice(0, 5).map((k) => k.slice(0, 40));
    throw reject(
      `malformed header: ${missing.length ? `missing ${missing.join(',')}` : ''}${extra.length ? ` unexpected ${unexpected.join(',')}` : ''}`.trim(),
    );
  }
  if (map.v !== MESSAGE_VERSION) throw reject(`unsupported message version ${String(map.v).slice(0, 20)}`);
  let m;
  try {
    m = parseContract(exchangeHeaderSchema, map, 'message header');
  } catch (err) {
    if (err instanceof ContractError) throw reject(`malformed header: ${err.problems.join('; ')}`);
    throw err;
  }
  if (m.run !== rules.runId) throw reject(`wrong run "${m.run.slice(0, 140)}" (this is "${rules.runId}")`);
  if (m.gen !== expect.generation) throw reject(`wrong generation ${m.gen} (current ${expect.generation})`);
  const [lo, hi] = expect.steps;
  if (m.step < lo || m.step > hi) {
    throw reject(`wrong step ${m.step} (expected ${lo === hi ? lo : `${lo}..${hi}`})`);
  }
  if (m.peer >= rules.peerCount) throw reject(`bad sender peer ${m.peer}`);
  if (expect.kind && m.kind !== expect.kind) throw reject(`unexpected kind "${m.kind}"`);
  const expected = rules.shapes[m.kind];
  if (m.shape.join(',') !== expected.join(',')) {
    throw reject(`wrong shape [${m.shape.join(',')}] for ${m.kind} (expected [${expected.join(',')}])`);
  }
  // Sizes before content: the declared shape fixes how many bytes the data must have.
  const bytesOf = dataBytes(m.data);
  const want = 4 * shapeSize(expected);
  if (bytesOf.byteLength !== want) {
    throw reject(
      bytesOf.byteLength % 4 !== 0
        ? `truncated: ${bytesOf.byteLength} data bytes`
        : `truncated: ${bytesOf.byteLength / 4} values, shape needs ${want / 4}`,
    );
  }
  const header: MessageHeader = {
    run: rules.runId,
    gen: m.gen,
    step: m.step,
    peer: m.peer,
    kind: m.kind,
    shape: expected.slice(),
  };
  const mac = computeMac(rules.secret ?? '', header, bytesOf);
  if (m.mac.length !== MAC_BYTES || !timingSafeEqual(mac, m.mac)) {
    throw reject(
      `authentication failed (MAC mismatch: forged, corrupted, or sent with another MAT_EXCHANGE_SECRET)`,
    );
  }
  const data = new Float32Array(want / 4);
  new Uint8Array(data.buffer).set(bytesOf);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw reject(`non-finite value ${data[i]} at index ${i}`);
  }
  return { ...header, data, mac };
}

/** Room for the largest tensor plus a generous header. */
export function defaultMaxBytes(rules: Pick<ExchangeRules, 'shapes'>): number {
  const largest = Math.max(...Object.values(rules.shapes).map(shapeSize));
  return 4 * largest + 4096;
}

function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** The data field's bytes (a `bin`, or msgpackr's typed-array extension), without copying. */
function dataBytes(value: Uint8Array | Float32Array): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** instanceof fails across realms (vm contexts, jest); the tag does not. Buffer is a Uint8Array. */
function isTyped<K extends 'Uint8Array' | 'Float32Array'>(
  v: unknown,
  kind: K,
): v is K extends 'Uint8Array' ? Uint8Array : Float32Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === `[object ${kind}]`;
}
