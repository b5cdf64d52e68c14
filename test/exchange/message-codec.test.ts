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
  RateLimit,
  type MessageHeader,
} from '@mat/exchange';

const SECRET = 'codec-secret-0123456789abcdef';
const rules: ExchangeRules = {
  runId: 'codec-run',
  peerCount: 3,
  shapes: messageShapes({ peerCount: 3, batchSize: 2, imageShape: [2, 2, 1], numClasses: 4 }),
  secret: SECRET,
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
  const m = packr.unpack(encodeMessage(header, { shape: header.shape, data }, SECRET)) as Record<
    string,
    unknown
  >;
  change(m);
  return packr.pack(m);
}

describe('message codec', () => {
  it('round-trips the header and the exact float32 data, binary (4 bytes a value plus a small header)', () => {
    const bytes = encodeMessage(header, { shape: header.shape, data }, SECRET);
    expect(bytes.length).toBeLessThan(data.byteLength + 200);
    const m = decodeMessage(bytes, rules, expect5);
    expect(m).toMatchObject({ run: 'codec-run', gen: 5, step: 7, peer: 1, kind: 'adv', shape: [2, 2, 2, 1] });
    expect(Array.from(m.data)).toEqual(Array.from(data));
    // A 1000-value payload costs 4000 bytes, not a JSON or base64 text.
    const big = { ...rules, shapes: { adv: [1000, 1, 1, 1], labels: [1, 1, 1] } };
    const bigBytes = encodeMessage(
      { ...header, shape: [1000, 1, 1, 1] },
      { shape: [1000, 1, 1, 1], data: new Float32Array(1000).fill(Math.PI) },
      SECRET,
    );
    expect(bigBytes.length).toBeLessThan(4000 + 200);
    expect(decodeMessage(bigBytes, big, expect5).data[999]).toBe(Math.fround(Math.PI));
  });

  it('rejects malformed, truncated and oversized messages', () => {
    const bytes = encodeMessage(header, { shape: header.shape, data }, SECRET);
    expect(rejection(Buffer.from('not msgpack at all'))).toMatch(/malformed|truncated/);
    expect(rejection(bytes.subarray(0, bytes.length - 5))).toMatch(/malformed or truncated/);
    expect(rejection(new Packr().pack([1, 2, 3]))).toMatch(/malformed/);
    expect(rejection(tampered((m) => delete m.mac))).toMatch(/malformed header: missing mac/);
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
      expect(rejection(encodeMessage(header, { shape: header.shape, data: d }, SECRET))).toMatch(
        new RegExp(`non-finite value ${bad} at index 3`),
      );
    }
  });

  it('rejects messages of another run, generation or step, and unknown senders, kinds, shapes or dtypes', () => {
    const enc = (h: Partial<MessageHeader>) =>
      encodeMessage({ ...header, ...h }, { shape: header.shape, data }, SECRET);
    expect(rejection(enc({ run: 'other-run' }))).toMatch(/wrong run "other-run"/);
    expect(rejection(enc({ gen: 4 }))).toMatch(/wrong generation 4 \(current 5\)/);
    expect(rejection(enc({ step: 6 }))).toMatch(/wrong step 6 \(expected 7\)/);
    expect(rejection(enc({ step: 9 }), { generation: 5, steps: [7, 8] })).toMatch(
      /wrong step 9 \(expected 7..8\)/,
    );
    expect(decodeMessage(enc({ step: 8 }), rules, { generation: 5, steps: [7, 8] }).step).toBe(8);
    expect(rejection(enc({ peer: 3 }))).toMatch(/bad sender peer 3/);
    expect(rejection(enc({}), { ...expect5, kind: 'labels' } as never)).toMatch(/unexpected kind "adv"/);
    expect(rejection(tampered((m) => (m.kind = 'weights')))).toMatch(/malformed header: kind: /);
    expect(rejection(tampered((m) => (m.dtype = 'float16')))).toMatch(/malformed header: dtype: /);
    const wrongShape = encodeMessage(
      { ...header, shape: [8, 1, 1, 1] },
      { shape: [8, 1, 1, 1], data },
      SECRET,
    );
    expect(rejection(wrongShape)).toMatch(/wrong shape \[8,1,1,1\] for adv \(expected \[2,2,2,1\]\)/);
  });

  it('catches a flipped bit in the data or a changed header field through the MAC', () => {
    const bytes = Buffer.from(encodeMessage(header, { shape: header.shape, data }, SECRET));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3] ^= 0x10; // inside the float data, still a finite number
    expect(rejection(flipped)).toMatch(/^authentication failed/);
    // A header changed consistently everywhere but the mac (e.g. a replayed message relabelled as peer 2,
    // or moved to another step or generation).
    expect(rejection(tampered((m) => (m.peer = 2)))).toMatch(/^authentication failed/);
    expect(
      rejection(
        tampered((m) => (m.step = 8)),
        { generation: 5, steps: [7, 8] },
      ),
    ).toMatch(/^authentication failed/);
  });

  it('authenticates: a message made without the secret, or with another one, is rejected naming sender and step', () => {
    // Finite, absurd values with everything else right: only the MAC can tell.
    const absurd = { shape: header.shape, data: new Float32Array(8).fill(3e38) };
    for (const secret of ['', 'another-secret-0123456789abcdef', SECRET.slice(0, -1)]) {
      let err: unknown;
      try {
        decodeMessage(encodeMessage(header, absurd, secret), rules, expect5);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MessageRejected);
      expect((err as MessageRejected).message).toMatch(/authentication failed .*MAT_EXCHANGE_SECRET/);
      expect((err as MessageRejected).claimed).toEqual({ sender: 1, step: 7, kind: 'adv' });
    }
    expect(decodeMessage(encodeMessage(header, absurd, SECRET), rules, expect5).data[0]).toBe(
      Math.fround(3e38),
    );
    // Without a secret on both sides the MAC still catches corruption (integrity, not authenticity).
    const open = { ...rules, secret: undefined };
    expect(decodeMessage(encodeMessage(header, { shape: header.shape, data }, ''), open, expect5).step).toBe(
      7,
    );
  });

  it('checks hostile headers before touching the payload: wrong types, huge shapes, prototype keys', () => {
    expect(rejection(tampered((m) => (m.step = '7')))).toMatch(/malformed header: step: /);
    expect(rejection(tampered((m) => (m.peer = -1)))).toMatch(/malformed header: peer: /);
    expect(rejection(tampered((m) => (m.gen = 2 ** 60)))).toMatch(/malformed header: gen: /);
    expect(rejection(tampered((m) => (m.shape = new Array(100).fill(1))))).toMatch(
      /malformed header: shape: /,
    );
    expect(rejection(tampered((m) => (m.shape = [2 ** 40, 1, 1, 1])))).toMatch(/malformed header: shape/);
    expect(rejection(tampered((m) => (m.mac = Buffer.alloc(4))))).toMatch(/mac must be 32 bytes/);
    expect(rejection(tampered((m) => (m.run = 'x'.repeat(1000))))).toMatch(/malformed header: run: /);
    const proto = tampered((m) =>
      Object.defineProperty(m, '__proto__', { value: { peer: 0 }, enumerable: true }),
    );
    // (msgpackr renames the key on decoding; either way it is refused)
    expect(rejection(proto)).toMatch(/malformed header: .*unexpected __proto_/);
    // A declared shape that matches but data of another size is refused before any MAC or copy.
    expect(rejection(tampered((m) => (m.data = Buffer.alloc(4 * 1000))))).toMatch(
      /truncated: 1000 values, shape needs 8/,
    );
  });

  it('the inbox logs every rejection with its reason and keeps only valid messages', () => {
    const logged: Array<{ reason: string; details: Record<string, unknown> }> = [];
    const inbox = new MessageInbox(rules, (reason, details) => logged.push({ reason, details }), 0);
    inbox.reset(5);
    const good = encodeMessage(header, { shape: header.shape, data }, SECRET);
    const nan = encodeMessage(header, { shape: header.shape, data: new Float32Array(8).fill(NaN) }, SECRET);
    expect(inbox.offer(Buffer.from('junk'), { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.offer(nan, { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.take('adv', 7, [1])).toBeUndefined();
    expect(inbox.offer(good, { steps: [7, 7] }, 'test')).toBe(true);
    expect(inbox.offer(good, { steps: [7, 7] }, 'test')).toBe(false); // the same again: ignored, not an error
    expect(logged.map((l) => l.reason)).toEqual([
      expect.stringMatching(/malformed/),
      expect.stringMatching(/non-finite/),
    ]);
    expect(logged[0].details).toMatchObject({ run: 'codec-run', receiver: 0, source: 'test' });
    expect(logged[1].details).toMatchObject({ sender: 1, step: 7, kind: 'adv' });
    expect(inbox.rejected).toBe(2);
    expect(Array.from(inbox.take('adv', 7, [1])!.get(1)!.data)).toEqual(Array.from(data));
  });
});

describe('message inbox: forged and conflicting messages', () => {
  const absurd = { shape: header.shape, data: new Float32Array(8).fill(3e38) };

  it('rejects a forged message pushed ahead of the genuine one, and accepts the genuine one', () => {
    const logged: Array<{ reason: string; details: Record<string, unknown> }> = [];
    const inbox = new MessageInbox(rules, (reason, details) => logged.push({ reason, details }), 0);
    inbox.reset(5);
    const forged = encodeMessage(header, absurd, 'guessed-secret-0123456789abcdef');
    expect(inbox.offer(forged, { steps: [7, 7] }, 'test')).toBe(false);
    expect(
      inbox.offer(encodeMessage(header, { shape: header.shape, data }, SECRET), { steps: [7, 7] }, 'test'),
    ).toBe(true);
    expect(Array.from(inbox.take('adv', 7, [1])!.get(1)!.data)).toEqual(Array.from(data));
    expect(logged).toEqual([
      {
        reason: expect.stringMatching(/^authentication failed/),
        details: expect.objectContaining({ sender: 1, step: 7 }),
      },
    ]);
  });

  it('rejects a valid duplicate that differs from the first accepted, also after the first was taken', () => {
    const logged: string[] = [];
    const inbox = new MessageInbox(rules, (reason) => logged.push(reason), 0);
    inbox.reset(5);
    const first = encodeMessage(header, { shape: header.shape, data }, SECRET);
    const other = encodeMessage(header, absurd, SECRET);
    expect(inbox.offer(first, { steps: [7, 7] }, 'test')).toBe(true);
    expect(inbox.offer(other, { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.take('adv', 7, [1])!.get(1)!.data[0]).toBe(data[0]);
    expect(inbox.offer(other, { steps: [7, 7] }, 'test')).toBe(false);
    expect(inbox.take('adv', 7, [1])).toBeUndefined();
    expect(logged).toEqual([
      expect.stringMatching(/conflicting duplicate: adv of step 7 from peer 1 differs/),
      expect.stringMatching(/conflicting duplicate/),
    ]);
    expect(inbox.rejected).toBe(2);
  });

  it('logs rejections at most a few a minute, saying how many were not logged', () => {
    const logged: Array<{ reason: string; details: Record<string, unknown> }> = [];
    let now = 0;
    const inbox = new MessageInbox(rules, (reason, details) => logged.push({ reason, details }), 0, {
      logLimit: new RateLimit(3, 60_000, () => now),
    });
    inbox.reset(5);
    for (let i = 0; i < 20000; i++) inbox.offer(Buffer.from(`junk ${i}`), { steps: [7, 7] }, 'test');
    expect(inbox.rejected).toBe(20000);
    expect(logged).toHaveLength(3);
    now = 60_000;
    inbox.offer(Buffer.from('junk'), { steps: [7, 7] }, 'test');
    expect(logged).toHaveLength(4);
    expect(logged[3].details).toMatchObject({ notLogged: 19997, rejectedSoFar: 20001 });
  });
});
