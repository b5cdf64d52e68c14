import type * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BufferPool } from './buffer-pool';

type DataId = object;
type BackendValues = ReturnType<MathBackendCPU['readSync']>;

/**
 * The cpu backend plus a BufferPool: native kernels allocate outputs with `allocFloat32`, and the buffers of
 * disposed tensors are recycled (see BufferPool for when that is safe). Storage and every non-native kernel
 * are exactly MathBackendCPU's.
 */
export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool(1 << 14, poolBytesFromEnv());

  allocFloat32(n: number): Float32Array {
    return this.pool.alloc(n);
  }

  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    this.pool.retain(values);
    return super.write(values, shape, dtype);
  }

  override move(
    dataId: DataId,
    values: BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    const previous = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    this.pool.retain(values);
    super.move(dataId, values, shape, dtype, refCount);
    if (previous !== undefined) this.pool.release(previous);
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const result = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return result;
  }

  override dispose(): void {
    this.pool.clear();
    super.dispose();
  }
}

/** MAT_NATIVE_POOL_MB caps the idle bytes kept for reuse (default 512; 0 disables recycling). */
function poolBytesFromEnv(): number {
  const mb = Number(process.env.MAT_NATIVE_POOL_MB ?? 512);
  return Number.isFinite(mb) && mb >= 0 ? mb * 2 ** 20 : 512 * 2 ** 20;
}
