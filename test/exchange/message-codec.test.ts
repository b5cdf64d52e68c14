import { Packr } from 'msgpackr';
import {
  decodeMessage,
  defaultMaxBytes,
  encodeMessage,
  MessageInbox,
  MessageRejected,
  messageShapes,
  type ExchangeRules,
  type Expectation,
  type MessageHeader,
} from '@mat/exchange';

const rules: ExchangeRules = {
  runId: 'codec-run',
  peerCount: 3,
  shapes: messageShapes({ peerCount: 3, batchSize: 2, imageShape: [2, 2, 1], numClasses: 4 }),
};
const header: MessageHeader = {
  run: 'codec-run',
  gen: 5,
  step: 7,
  peer: 1,
  kind: 'adv',
  shape: [2, 2, 2, 1],
};
const data = Float32Array.from({ length: 8 }, (_, i) => i / 8 - 0.3);
const expect5: Expectation = { generation: 5, steps: [7, 7] };

function rejection(bytes: Uint8Array, expectation = expect5, r = rules): string {
  try {
    decodeMessage(bytes, r, expectation);
  } catch (err) {
    expect(err).toBeInstanceOf(MessageRejected);
    return (err as Error).message;
  }
  throw new Error('the message was accepted');
}

/** Re-encodes a decoded message map with one field changed, keeping everything else (incl. the crc). */
function tampered(change: (m: Record<string, unknown>) => void): Uint8Array {
  const packr = new Packr({ moreTypes: true, useRecords: false });
  const m = packr.unpack(encodeMessage(header, { shape: header.shape, data })) as Record<string, unknown>;
  change(m);
  return packr.pack(m);
}

describe('message codec', () => {
  it('round-trips the header and the exact float32 data, binary (4 bytes a value plus a small header)', () => {
    const bytes = encodeMessage(header, { shape: header.shape, data });
    expect(bytes.length).toBeLessThan(data.byteLength + 200);
    const m = decodeMessage(bytes, rules, expect5);
    expect(m).toMatchObject({ run: 'codec-run', gen: 5, step: 7, peer: 1, kind: 'adv', shape: [2, 2, 2, 1] });
    expect(Array.from(m.data)).toEqual(Array.from(data));
    // A 1000-value payload costs 4000 bytes, not a JSON or base64 text.
    const big = { ...rules, shapes: { adv: [1000, 1, 1, 1], labels: [1, 1, 1] } };
    const bigBytes = encodeMessage(
      { ...header, shape: [1000, 1, 1, 1] },
      { shape: [1000, 1, 1, 1], data: new Float32Array(1000).fill(Math.PI) },
    );
    expect(bigBytes.length).toBeLessThan(4000 + 200);
    expect(decodeMessage(bigBytes, big, expect5).data[999]).toBe(Math.fround(Math.PI));
  });

  it('rejects malformed, truncated and oversized messages', () => {
    const bytes = encodeMessage(header, { shape: header.shape, data });
    expect(rejection(Buffer.from('not msgpack at all'))).toMatch(/malformed|truncated/);
    expect(rejection(bytes.subarray(0, bytes.length - 5))).toMatch(/malformed or truncated/);
    expect(rejection(new Packr().pack([1, 2, 3]))).toMatch(/malformed/);
    expect(rejection(tampered((m) => delete m.crc))).toMatch(/malformed header: missing crc/);
    expect(rejection(tampered((m) => (m.extra = 1)))).toMatch(/unexpected extra/);
    expect(rejection(tampered((m) => (m.data = (m.data as Buffer).subarray(0, 12))))).toMatch(
      /truncated: 3 values/,
    );
    expect(rejection(tampered((m) => (m.data = (m.data as Buffer).subarray(0, 13))))).toMatch(
      /truncated: 13 data bytes/,
    );
    expect(rejection(tampered((m) => (m.data = Array.from(data))))).toMatch(/not float32 bytes/);
    expect(rejection(bytes, expect5, { ...rules, maxBytes: 64 })).toMatch(/oversized: \d+ bytes, at most 64/);
    const huge = new Uint8Array(defaultMaxBytes(rules) + 1);
    expect(rejection(huge)).toMatch(/oversized/);
  });

  it('rejects NaN and infinite values', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const d = data.slice();
      d[3] = bad;
      expect(rejection(encodeMessage(header, { shape: header.shape, data: d }))).toMatch(
        new RegExp(`non-finite value ${bad} at index 3`),
      );
    }
  });

  it('rejects messages of another run, generation or step, and unknown senders, kinds, shapes or dtypes', () => {
    const enc = (h: Partial<MessageHeader>) =>
      encodeMessage({ ...header, ...h }, { shape: header.shape, data });
    expect(rejection(enc({ run: 'other-run' }))).toMatch(/wrong run "other-run"/);
    expect(rejection(enc({ gen: 4 }))).toMatch(/wrong generation 4 \(current 5\)/);
    expect(rejection(enc({ step: 6 }))).toMatch(/wrong step 6 \(expected 7\)/);
    expect(rejection(enc({ step: 9 }), { generation: 5, steps: [7, 8] })).toMatch(
      /wrong step 9 \(expected 7..8\)/,
    );
    expect(decodeMessage(enc({ step: 8 }), rules, { generation: 5, steps: [7, 8] }).step).toBe(8);
    expect(rejection(enc({ peer: 3 }))).toMatch(/bad sender peer 3/);
    expect(rejection(enc({}), { ...expect5, kind: 'labels' } as never)).toMatch(/unexpected kind "adv"/);
    expect(rejection(tampered((m) => (m.kind = 'weights')))).toMatch(/unexpected kind "weights"/);
    expect(rejection(tampered((m) => (m.dtype = 'float16')))).toMatch(/unsupported dtype/);
    const wrongShape = encodeMessage({ ...header, shape: [8, 1, 1, 1] }, { shape: [8, 1, 1, 1], data });
    expect(rejection(wrongShape)).toMatch(/wrong shape \[8,1,1,1\] for adv \(expected \[2,2,2,1\]\)/);
  });

  it('catches a flipped bit in the data or a changed header field through the checksum', () => {
    const bytes = Buffer.from(encodeMessage(header, { shape: header.shape, data }));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3] ^= 0x10; // inside the float data, still a finite number
    expect(rejection(flipped)).toBe('checksum mismatch');
    // A header changed consistently everywhere but the crc (e.g. a replayed message relabelled as peer 2).
    expect(rejection(tampered((m) => (m.peer = 2)))).toBe('checksum mismatch');
  });

  it('the inbox logs every rejection with its reason and keeps only valid messages', () => {
    const logged: Array<{ reason: string; details: Record<string, unknown> }> = [];
    const inbox = new MessageInbox(rules, (reason, details) => logged.push({ reason, details }), 0);
    inbox.reset(5);
    const good = encodeMessage(header, { shape: header.shape, data });
    const nan = encodeMessage(header, { shape: header.shape, data: new Float32Array(8).fill(NaN) });
    expect(inbox.offer(Buffer.from('junk'), { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.offer(nan, { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.take('adv', 7, [1])).toBeUndefined();
    expect(inbox.offer(good, { steps: [7, 7] }, 'test')).toBe(true);
    expect(inbox.offer(good, { steps: [7, 7] }, 'test')).toBe(false); // duplicate: ignored, not an error
    expect(logged.map((l) => l.reason)).toEqual([
      expect.stringMatching(/malformed/),
      expect.stringMatching(/non-finite/),
    ]);
    expect(logged[0].details).toMatchObject({ run: 'codec-run', receiver: 0, source: 'test' });
    expect(inbox.rejected).toBe(2);
    expect(Array.from(inbox.take('adv', 7, [1])!.get(1)!.data)).toEqual(Array.from(data));
  });
});
