import * as tf from '@tensorflow/tfjs-core';
import { BufferPool } from '../../packages/native/src/buffer-pool';
import { NativeBackend } from '../../packages/native/src/native-backend';
import { describeNative } from './helpers';

describe('BufferPool', () => {
  it('reuses a buffer only after its last reference is released', () => {
    const pool = new BufferPool(4, 1 << 20);
    const a = pool.alloc(100);
    pool.retain(a);
    pool.retain(a.subarray(10, 20)); // a view made by a kernel such as Slice shares the buffer
    pool.release(a);
    expect(pool.alloc(100)).not.toBe(a);
    pool.release(a.subarray(10, 20));
    const b = pool.alloc(100);
    expect(b.buffer).toBe(a.buffer);
  });

  it('never reuses an escaped buffer, nor one it did not allocate, nor small ones', () => {
    const pool = new BufferPool(64, 1 << 20);
    const a = pool.alloc(100);
    pool.retain(a);
    pool.escape(a);
    pool.release(a);
    expect(pool.alloc(100)).not.toBe(a);
    const foreign = new Float32Array(100);
    pool.retain(foreign);
    pool.release(foreign);
    expect(pool.alloc(100)).not.toBe(foreign);
    const small = pool.alloc(10);
    pool.retain(small);
    pool.release(small);
    expect(pool.alloc(10)).not.toBe(small);
  });

  it('keeps at most maxBytes idle', () => {
    const pool = new BufferPool(4, 1000);
    const arrays = [pool.alloc(200), pool.alloc(200)];
    for (const a of arrays) {
      pool.retain(a);
      pool.release(a);
    }
    expect(pool.idleBytes).toBe(800);
    const third = pool.alloc(100);
    pool.retain(third);
    pool.release(third);
    expect(pool.idleBytes).toBe(800); // 800 + 400 > 1000: dropped
  });
});

describeNative('native backend buffer recycling keeps tensor data intact', () => {
  const n = 64 * 1024; // above the pooling threshold

  beforeAll(() => tf.setBackend('native'));

  it('is in use on the native backend', () => {
    expect(tf.backend()).toBeInstanceOf(NativeBackend);
  });

  it('recycles the buffer of a disposed native output', () => {
    const x = tf.fill([n], -1);
    const first = tf.relu(x);
    const pool = (tf.backend() as NativeBackend).pool;
    const idle = pool.idleBytes;
    first.dispose();
    expect(pool.idleBytes).toBe(idle + n * 4);
    const second = tf.relu(x);
    expect(pool.idleBytes).toBe(idle);
    tf.dispose([x, second]);
  });

  it('an array returned by dataSync survives dispose and later kernels', () => {
    const x = tf.fill([n], 2);
    const y = tf.relu(x);
    const values = y.dataSync();
    y.dispose();
    const others = [tf.relu(tf.neg(x)), tf.relu(x), tf.relu(tf.neg(x))];
    expect(values.every((v) => v === 2)).toBe(true);
    tf.dispose([x, ...others]);
  });

  it('a slice (a view of the parent buffer) survives disposing its parent', () => {
    const x = tf.fill([4, n / 4], 3);
    const y = tf.relu(x);
    const row = tf.slice(y, [1, 0], [1, n / 4]); // cpu Slice returns a subarray of y's buffer
    y.dispose();
    const others = [tf.relu(tf.neg(x)), tf.relu(tf.neg(x))];
    expect(row.dataSync().every((v) => v === 3)).toBe(true);
    tf.dispose([x, row, ...others]);
  });

  it('reshape shares data: disposing one handle leaves the other intact', () => {
    const x = tf.fill([n], 5);
    const y = tf.relu(x);
    const r = tf.reshape(y, [2, n / 2]);
    y.dispose();
    const other = tf.relu(tf.neg(x));
    expect(r.dataSync().every((v) => v === 5)).toBe(true);
    tf.dispose([x, r, other]);
  });
});
