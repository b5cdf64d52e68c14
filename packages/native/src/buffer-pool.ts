/**
 * Recycles the large Float32Arrays that native kernels return, keyed by length.
 *
 * Why: a fresh 12 MB array costs more in page faults (~4 ms here) than the conv that fills it, and the
 * fmnist-cnn PGD step allocates dozens per gradient. tfjs tells the backend exactly when a tensor dies, so the
 * buffer can be reused at once instead of waiting for V8's GC.
 *
 * Safety: a buffer is reused only when no tensor data refers to it any more. References are counted per
 * ArrayBuffer (so subarray views made by cpu kernels such as Slice count too), and a buffer handed out by
 * readSync (dataSync/data/arraySync) is never reused, since the caller may keep it after disposing the tensor.
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** Live tensor-data references per buffer we allocated; absent = never ours, or escaped. */
  private readonly refs = new WeakMap<ArrayBufferLike, number>();
  private pooledBytes = 0;

  /**
   * @param minLength arrays shorter than this are not worth pooling
   * @param maxBytes cap on the bytes held idle in the pool
   */
  constructor(
    readonly minLength = 1 << 14,
    readonly maxBytes = 512 * 2 ** 20,
  ) {}

  /** An array of n floats with arbitrary contents: the caller must write every element. */
  alloc(n: number): Float32Array {
    if (n < this.minLength) return new Float32Array(n);
    const reused = this.free.get(n)?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      this.refs.set(reused.buffer, 0);
      return reused;
    }
    const fresh = new Float32Array(n);
    this.refs.set(fresh.buffer, 0);
    return fresh;
  }

  /** Tensor data now refers to values (write/makeTensorInfo/move). */
  retain(values: unknown): void {
    const buffer = bufferOf(values);
    const count = buffer && this.refs.get(buffer);
    if (buffer && count !== undefined) this.refs.set(buffer, count + 1);
  }

  /** Tensor data that referred to values was deleted; the last reference returns the buffer to the pool. */
  release(values: unknown): void {
    const buffer = bufferOf(values);
    const count = buffer && this.refs.get(buffer);
    if (!buffer || count === undefined) return;
    if (count > 1) {
      this.refs.set(buffer, count - 1);
      return;
    }
    this.refs.delete(buffer);
    const whole = new Float32Array(buffer);
    if (this.pooledBytes + whole.byteLength > this.maxBytes) return; // let the GC have it
    const list = this.free.get(whole.length) ?? [];
    list.push(whole);
    this.free.set(whole.length, list);
    this.pooledBytes += whole.byteLength;
  }

  /** values left the backend (readSync): never reuse its buffer. */
  escape(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer) this.refs.delete(buffer);
  }

  /** Bytes currently idle in the pool. */
  get idleBytes(): number {
    return this.pooledBytes;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}

function bufferOf(values: unknown): ArrayBufferLike | undefined {
  return ArrayBuffer.isView(values) ? values.buffer : undefined;
}
