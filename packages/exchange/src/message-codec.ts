import * as zlib from 'zlib';
import { Packr } from 'msgpackr';
import { MESSAGE_KINDS, type ExchangeRules, type MessageKind, type TensorPayload } from './peer-exchange';

/**
 * One data-plane message: a msgpack map whose `data` is the tensor's raw little-endian float32 bytes, a
 * msgpack `bin` (4 bytes a number, no JSON, no base64; any msgpack library reads it):
 *
 *   { v: 1, run, gen, step, peer, kind, shape: [..], dtype: 'float32', crc, data: <bin> }
 *
 * (A raw `bin` rather than msgpackr's typed-array extension: that one is chosen by `instanceof`, which fails
 * for arrays made in another JS realm — vm contexts, jest — and would silently encode a map of numbers.
 * Decoding accepts the extension too.)
 *
 * `crc` is the CRC-32 of the canonical header text followed by the data bytes, so a flipped bit anywhere
 * (header or tensor) is caught. Decoding checks everything before returning; any problem is a
 * MessageRejected whose message is the reason.
 */

export const MESSAGE_VERSION = 1;

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
}

export class MessageRejected extends Error {
  override name = 'MessageRejected';
}

// useRecords: false keeps plain msgpack maps, so no record definitions are shared between processes.
const packr = new Packr({ moreTypes: true, useRecords: false });

const crc32: (data: Uint8Array, initial?: number) => number =
  (zlib as unknown as { crc32?: typeof crc32 }).crc32 ?? crc32Js;

function checksum(h: MessageHeader, data: Float32Array): number {
  const text = `${MESSAGE_VERSION}|${h.run}|${h.gen}|${h.step}|${h.peer}|${h.kind}|${h.shape.join('x')}|float32`;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return crc32(bytes, crc32(Buffer.from(text, 'utf8'))) >>> 0;
}

export function encodeMessage(header: MessageHeader, tensor: TensorPayload): Buffer {
  if (tensor.data.length !== shapeSize(tensor.shape)) {
    throw new Error(
      `encodeMessage: data has ${tensor.data.length} values, shape [${tensor.shape}] needs more`,
    );
  }
  const h = { ...header, shape: tensor.shape.slice() };
  return packr.pack({
    v: MESSAGE_VERSION,
    run: h.run,
    gen: h.gen,
    step: h.step,
    peer: h.peer,
    kind: h.kind,
    shape: h.shape,
    dtype: 'float32',
    crc: checksum(h, tensor.data),
    data: Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
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

const FIELDS = ['v', 'run', 'gen', 'step', 'peer', 'kind', 'shape', 'dtype', 'crc', 'data'];

/** Decodes and validates one message; throws MessageRejected with the reason. */
export function decodeMessage(bytes: Uint8Array, rules: ExchangeRules, expect: Expectation): ExchangeMessage {
  const maxBytes = rules.maxBytes ?? defaultMaxBytes(rules);
  if (!isTyped(bytes, 'Uint8Array')) throw new MessageRejected('not binary data');
  if (bytes.length > maxBytes) {
    throw new MessageRejected(`oversized: ${bytes.length} bytes, at most ${maxBytes} accepted`);
  }
  let m: Record<string, unknown>;
  try {
    const value: unknown = packr.unpack(bytes);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a map');
    m = value as Record<string, unknown>;
  } catch (err) {
    throw new MessageRejected(`malformed or truncated: ${(err as Error).message}`);
  }
  const keys = Object.keys(m);
  const missing = FIELDS.filter((k) => !(k in m));
  const extra = keys.filter((k) => !FIELDS.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new MessageRejected(
      `malformed header: ${missing.length ? `missing ${missing.join(',')}` : ''}${extra.length ? ` unexpected ${extra.join(',')}` : ''}`.trim(),
    );
  }
  if (m.v !== MESSAGE_VERSION) throw new MessageRejected(`unsupported message version ${String(m.v)}`);
  if (m.run !== rules.runId)
    throw new MessageRejected(`wrong run "${String(m.run)}" (this is "${rules.runId}")`);
  if (m.gen !== expect.generation) {
    throw new MessageRejected(`wrong generation ${String(m.gen)} (current ${expect.generation})`);
  }
  const [lo, hi] = expect.steps;
  if (!isInt(m.step) || m.step < lo || m.step > hi) {
    throw new MessageRejected(`wrong step ${String(m.step)} (expected ${lo === hi ? lo : `${lo}..${hi}`})`);
  }
  if (!isInt(m.peer) || m.peer < 0 || m.peer >= rules.peerCount) {
    throw new MessageRejected(`bad sender peer ${String(m.peer)}`);
  }
  if (!MESSAGE_KINDS.includes(m.kind as MessageKind) || (expect.kind && m.kind !== expect.kind)) {
    throw new MessageRejected(`unexpected kind "${String(m.kind)}"`);
  }
  const kind = m.kind as MessageKind;
  if (m.dtype !== 'float32') throw new MessageRejected(`unsupported dtype "${String(m.dtype)}"`);
  const expected = rules.shapes[kind];
  if (!Array.isArray(m.shape) || m.shape.join(',') !== expected.join(',')) {
    throw new MessageRejected(
      `wrong shape [${String(m.shape)}] for ${kind} (expected [${expected.join(',')}])`,
    );
  }
  const data = float32Of(m.data);
  if (data.length !== shapeSize(expected)) {
    throw new MessageRejected(`truncated: ${data.length} values, shape needs ${shapeSize(expected)}`);
  }
  const header: MessageHeader = {
    run: rules.runId,
    gen: m.gen,
    step: m.step,
    peer: m.peer,
    kind,
    shape: expected.slice(),
  };
  if (m.crc !== checksum(header, data)) throw new MessageRejected('checksum mismatch');
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new MessageRejected(`non-finite value ${data[i]} at index ${i}`);
  }
  return { ...header, data };
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

/** The data field as an aligned Float32Array (copied from a `bin`, or msgpackr's typed-array extension). */
function float32Of(value: unknown): Float32Array {
  if (isTyped(value, 'Float32Array')) return value;
  if (!isTyped(value, 'Uint8Array')) throw new MessageRejected('data is not float32 bytes');
  if (value.byteLength % 4 !== 0) throw new MessageRejected(`truncated: ${value.byteLength} data bytes`);
  const out = new Float32Array(value.byteLength / 4);
  new Uint8Array(out.buffer).set(value);
  return out;
}

/** instanceof fails across realms (vm contexts, jest); the tag does not. Buffer is a Uint8Array. */
function isTyped<K extends 'Uint8Array' | 'Float32Array'>(
  v: unknown,
  kind: K,
): v is K extends 'Uint8Array' ? Uint8Array : Float32Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === `[object ${kind}]`;
}

let table: Uint32Array | undefined;
/** CRC-32 (IEEE) for Node versions without zlib.crc32. */
function crc32Js(data: Uint8Array, initial = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
