import { z } from 'zod';
import { MESSAGE_KINDS } from '../peer-exchange';
import { indexField, shortText } from './fields';

/**
 * The header of a data-plane message (message-codec.ts encodes and decodes it): a msgpack map
 *   { v, run, gen, step, peer, kind, shape, dtype, mac, data }
 * checked field by field before any payload byte is used. Nothing else may be in the map.
 */
export const MESSAGE_VERSION = 2;
/** HMAC-SHA256 output. */
export const MAC_BYTES = 32;
/** No tensor of MAT has more dimensions; a longer shape is hostile. */
const MAX_RANK = 8;

const bytesField = z.custom<Uint8Array>(
  (v) => ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]',
  'expected binary data',
);
const dataField = z.custom<Uint8Array | Float32Array>(
  (v) =>
    ArrayBuffer.isView(v) &&
    ['[object Uint8Array]', '[object Float32Array]'].includes(Object.prototype.toString.call(v)),
  'data is not float32 bytes',
);

export const exchangeHeaderSchema = z.strictObject({
  v: z.literal(MESSAGE_VERSION),
  run: shortText,
  /** Generation of the run (see redis-keys.ts): messages of an abandoned generation are stale. */
  gen: indexField,
  step: indexField,
  /** Sender. */
  peer: indexField,
  kind: z.enum(MESSAGE_KINDS),
  shape: z
    .array(
      z
        .number()
        .int()
        .positive()
        .max(2 ** 31),
    )
    .min(1)
    .max(MAX_RANK),
  dtype: z.literal('float32'),
  /** HMAC-SHA256 of the canonical header and the data, keyed by the exchange secret. */
  mac: bytesField.refine((b) => b.length === MAC_BYTES, `mac must be ${MAC_BYTES} bytes`),
  data: dataField,
});

export type ExchangeWireMessage = z.output<typeof exchangeHeaderSchema>;
export const EXCHANGE_FIELDS = Object.keys(exchangeHeaderSchema.shape);
