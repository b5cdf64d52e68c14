import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createModel,
  decodeTensorFile,
  encodeTensorFile,
  loadModelWeights,
  modelToEntries,
  assertFiniteEntries,
  nonFiniteEntries,
  saveModelWeights,
  writeFileAtomic,
  type Model,
  type TensorEntry,
} from '@mat/core';

let dir: string;
beforeAll(() => {
  tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-weights-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sample: TensorEntry[] = [
  {
    name: 'a.kernel',
    shape: [2, 3],
    dtype: 'float32',
    data: Float32Array.from([1.5, -2, 3, 0.25, 1e-8, -7]),
  },
  { name: 'step', shape: [], dtype: 'int32', data: Int32Array.from([-123456]) },
  { name: 'empty', shape: [0, 4], dtype: 'float32', data: new Float32Array(0) },
  { name: 'b.bias', shape: [3], dtype: 'int32', data: Int32Array.from([1, 2, 2147483647]) },
  { name: 'bn.num_batches_tracked', shape: [], dtype: 'int64', data: BigInt64Array.from([2n ** 40n + 3n]) },
];

/** A safetensors file assembled by hand, the way another writer (e.g. Python's) might lay it out. */
function handMade(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function snapshot(model: Model): Float32Array[] {
  return [...model.params, ...model.buffers].map((p) => p.variable.dataSync().slice() as Float32Array);
}

describe('encodeTensorFile / decodeTensorFile', () => {
  it('round-trips float32, int32, int64, scalar and empty tensors with metadata', () => {
    const bytes = encodeTensorFile(sample, { arch: 'x', note: 'ünïcode' });
    const { entries, tensors, metadata } = decodeTensorFile(bytes, 'mem');
    expect(metadata).toEqual({ arch: 'x', note: 'ünïcode' });
    expect(entries.map((e) => e.name)).toEqual(sample.map((e) => e.name));
    for (const e of sample) {
      const d = tensors.get(e.name) as TensorEntry;
      expect(d.shape).toEqual(e.shape);
      expect(d.dtype).toBe(e.dtype);
      expect(d.data.constructor).toBe(e.data.constructor);
      expect([...d.data]).toEqual([...e.data]);
    }
  });

  it('writes the safetensors layout: u64 LE header length, 8-aligned JSON header, LE data at the offsets', () => {
    const bytes = encodeTensorFile(sample, { k: 'v' });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(header['a.kernel']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header.step).toEqual({ dtype: 'I32', shape: [], data_offsets: [24, 28] });
    expect(header.empty).toEqual({ dtype: 'F32', shape: [0, 4], data_offsets: [28, 28] });
    expect(header['b.bias']).toEqual({ dtype: 'I32', shape: [3], data_offsets: [28, 40] });
    expect(header['bn.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: [40, 48] });
    expect(bytes.length).toBe(8 + n + 48);
    expect(view.getBigInt64(8 + n + 40, true)).toBe(2n ** 40n + 3n);
    expect(view.getFloat32(8 + n + 4, true)).toBe(-2);
    expect(view.getInt32(8 + n + 24, true)).toBe(-123456);
    expect(view.getInt32(8 + n + 36, true)).toBe(2147483647);
  });

  it('reads files written by other safetensors writers (no padding, any key order, no metadata)', () => {
    const data = new Uint8Array([...f32Bytes([4, 5]), ...f32Bytes([1, 2, 3])]);
    const bytes = handMade(
      {
        w: { dtype: 'F32', shape: [3], data_offsets: [8, 20] },
        v: { dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] },
      },
      data,
    );
    const { entries, metadata } = decodeTensorFile(bytes, 'py');
    expect(metadata).toEqual({});
    expect(entries.map((e) => [e.name, [...e.data]])).toEqual([
      ['v', [4, 5]],
      ['w', [1, 2, 3]],
    ]);
  });

  const w = (offsets: [number, number], extra: object = {}) => ({
    w: { dtype: 'F32', shape: [2], data_offsets: offsets, ...extra },
  });
  it.each([
    ['too short', new Uint8Array(5), /too short \(5 bytes/],
    [
      'header length beyond file',
      (() => {
        const b = handMade(w([0, 8]), f32Bytes([1, 2]));
        new DataView(b.buffer).setUint32(0, 1000, true);
        return b;
      })(),
      /header length 1000 goes beyond the file/,
    ],
    ['bad JSON', handMade(null, f32Bytes([1, 2]), '{"w": {"dtype": "F32",'), /header is not valid JSON/],
    ['header not an object', handMade([1, 2], new Uint8Array(0)), /header is not a JSON object/],
    [
      'unknown dtype',
      handMade(w([0, 8], { dtype: 'F16' }), f32Bytes([1, 2])),
      /'w' has unsupported dtype "F16"/,
    ],
    ['bad shape', handMade(w([0, 8], { shape: [-2] }), f32Bytes([1, 2])), /'w' has invalid shape \[-2\]/],
    [
      'offsets not a pair',
      handMade(w([0] as unknown as [number, number]), f32Bytes([1, 2])),
      /invalid data_offsets/,
    ],
    ['offsets out of range', handMade(w([0, 16]), f32Bytes([1, 2])), /out of range \(data area is 8 bytes\)/],
    ['offsets reversed', handMade(w([8, 0]), f32Bytes([1, 2])), /out of range/],
    [
      'I64 size mismatch (8 bytes per value)',
      handMade({ c: { dtype: 'I64', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1, 2])),
      /'c' size mismatch: shape \[2\] needs 16 bytes, offsets give 8/,
    ],
    [
      'size mismatch',
      handMade(w([0, 4]), f32Bytes([1])),
      /'w' size mismatch: shape \[2\] needs 8 bytes, offsets give 4/,
    ],
    [
      'overlapping tensors',
      handMade({ ...w([0, 8]), v: { dtype: 'I32', shape: [2], data_offsets: [4, 12] } }, f32Bytes([1, 2, 3])),
      /data_offsets \[4, 12\] overlap another tensor/,
    ],
    [
      'gap before a tensor',
      handMade(w([4, 12]), f32Bytes([0, 1, 2])),
      /bytes 0\.\.4 of the data area belong to no tensor/,
    ],
    [
      'trailing bytes',
      handMade(w([0, 8]), f32Bytes([1, 2, 3])),
      /bytes 8\.\.12 of the data area belong to no tensor/,
    ],
    [
      'non-string metadata',
      handMade({ __metadata__: { n: 1 } }, new Uint8Array(0)),
      /metadata 'n' is not a string/,
    ],
  ])('rejects a file with %s, naming the source', (_case, bytes, problem) => {
    expect(() => decodeTensorFile(bytes, '/runs/x.safetensors')).toThrow(problem);
    expect(() => decodeTensorFile(bytes, '/runs/x.safetensors')).toThrow(
      /^\/runs\/x\.safetensors: invalid weight file: /,
    );
  });

  it('refuses to encode inconsistent entries', () => {
    const base = sample[0];
    expect(() => encodeTensorFile([base, base])).toThrow(/duplicate tensor name 'a.kernel'/);
    expect(() => encodeTensorFile([{ ...base, shape: [4] }])).toThrow(/6 values do not fill shape \[4\]/);
    expect(() => encodeTensorFile([{ ...base, dtype: 'int32' }])).toThrow(/data is not a Int32Array/);
    expect(() => encodeTensorFile([{ ...base, name: '__metadata__' }])).toThrow(/invalid tensor name/);
    expect(() => encodeTensorFile([], { n: 1 as unknown as string })).toThrow(
      /metadata 'n' must be a string/,
    );
  });
});

describe('nonFiniteEntries / assertFiniteEntries', () => {
  const entries: TensorEntry[] = [
    { name: 'ok', shape: [2], dtype: 'float32', data: Float32Array.from([1, -2]) },
    { name: 'nan', shape: [3], dtype: 'float32', data: Float32Array.from([NaN, 0, NaN]) },
    { name: 'inf', shape: [2], dtype: 'float32', data: Float32Array.from([1, -Infinity]) },
    { name: 'count', shape: [], dtype: 'int64', data: BigInt64Array.from([5n]) },
  ];

  it('names every float tensor with NaN or ±Infinity, with how many', () => {
    expect(nonFiniteEntries(entries)).toEqual([
      { name: 'nan', count: 2 },
      { name: 'inf', count: 1 },
    ]);
    expect(() => assertFiniteEntries(entries, 'peer-0.safetensors')).toThrow(
      /^peer-0\.safetensors: weights are not finite \(NaN or ±Infinity\): nan \(2\), inf \(1\)$/,
    );
    expect(() => assertFiniteEntries([entries[0], entries[3]], 'x')).not.toThrow();
  });
});

describe('writeFileAtomic', () => {
  it('writes and replaces a file, leaving no temporary files', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'atomic-'));
    const file = path.join(sub, 'w.bin');
    writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    writeFileAtomic(file, new Uint8Array([4, 5]));
    expect(Array.from(fs.readFileSync(file))).toEqual([4, 5]);
    expect(fs.readdirSync(sub)).toEqual(['w.bin']);
  });

  it('on failure leaves the target untouched and cleans up its temporary file', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'atomic-'));
    const target = path.join(sub, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    expect(() => writeFileAtomic(target, new Uint8Array([1]))).toThrow();
    expect(fs.readdirSync(sub)).toEqual(['taken']);
    expect(fs.readdirSync(target)).toEqual(['keep']);
    expect(() => writeFileAtomic(path.join(sub, 'missing', 'f'), new Uint8Array([1]))).toThrow(/ENOENT/);
  });
});

describe('saveModelWeights / loadModelWeights', () => {
  const options = {
    seed: 1,
    inputShape: [8, 8, 3] as [number, number, number],
    depth: 10,
    widen: 1,
    numClasses: 5,
  };
  let source: Model;
  let file: string;

  beforeAll(() => {
    source = createModel('wide-resnet', options);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.cos(i)),
      [2, 8, 8, 3],
    );
    tf.dispose(source.forward(x, { training: true, updateStats: true })); // non-default buffers
    x.dispose();
    file = path.join(dir, 'wrn.safetensors');
    saveModelWeights(source, file, { run: 'test' });
  });
  afterAll(() => source.dispose());

  it('restores every param and buffer exactly and returns the metadata', () => {
    const target = createModel('wide-resnet', { ...options, seed: 2 });
    const metadata = loadModelWeights(target, file);
    expect(metadata).toEqual({
      format: 'mat-weights',
      arch: 'wide-resnet',
      inputShape: '[8,8,3]',
      numClasses: '5',
      run: 'test',
    });
    const [a, b] = [source, target].map(snapshot);
    a.forEach((values, i) => expect(Buffer.from(b[i].buffer).equals(Buffer.from(values.buffer))).toBe(true));
    target.dispose();
  });

  function expectLoadFails(target: Model, badFile: string, messages: RegExp[]): void {
    const before = snapshot(target);
    let error: Error | undefined;
    try {
      loadModelWeights(target, badFile);
    } catch (err) {
      error = err as Error;
    }
    expect(error).toBeDefined();
    for (const m of messages) expect(error?.message).toMatch(m);
    snapshot(target).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(before[i])));
  }

  it('lists missing and unexpected names and leaves the model unchanged', () => {
    const entries = modelToEntries(source).filter((e) => e.name !== 'block2.layer.0.bn1.runningVar');
    entries.push({ name: 'extra.kernel', shape: [1], dtype: 'float32', data: new Float32Array(1) });
    const bad = path.join(dir, 'bad-names.safetensors');
    writeFileAtomic(bad, encodeTensorFile(entries));
    const target = createModel('wide-resnet', { ...options, seed: 3 });
    expectLoadFails(target, bad, [
      /bad-names\.safetensors: weights do not fit model wide-resnet/,
      /missing: block2\.layer\.0\.bn1\.runningVar;/,
      /unexpected: extra\.kernel/,
    ]);
    target.dispose();
  });

  it('lists mismatched shapes (other numClasses) and leaves the model unchanged', () => {
    const target = createModel('wide-resnet', { ...options, numClasses: 7 });
    expectLoadFails(target, file, [
      /mismatched: fc\.kernel \(file float32 \[64, 5\], model float32 \[64, 7\]\), fc\.bias/,
    ]);
    expect(() => loadModelWeights(target, file)).not.toThrow(/missing|unexpected/);
    target.dispose();
  });

  it('rejects a weight file of another architecture, a corrupt file and a missing file', () => {
    const target = createModel('fmnist-cnn', { seed: 0 });
    expectLoadFails(target, file, [
      /missing: conv1\.bias, conv2\.kernel/,
      /unexpected: block1\.layer\.0\.bn1\.gamma, .*\(38 in all\)/,
      /mismatched: conv1\.kernel \(file float32 \[3, 3, 3, 16\], model float32 \[3, 3, 1, 32\]\)/,
    ]);
    const corrupt = path.join(dir, 'corrupt.safetensors');
    fs.writeFileSync(corrupt, fs.readFileSync(file).subarray(0, 200));
    expectLoadFails(target, corrupt, [/corrupt\.safetensors: invalid weight file/]);
    expectLoadFails(target, path.join(dir, 'nope.safetensors'), [
      /nope\.safetensors: cannot read weight file/,
    ]);
    target.dispose();
  });
});
