import { avgPoolKernel } from './avg-pool';
import { avgPoolGradKernel } from './avg-pool-grad';
import { batchMatMulKernel } from './batch-matmul';
import { conv2DKernel } from './conv2d';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter';
import { conv2DBackpropInputKernel } from './conv2d-backprop-input';
import {
  addKernel,
  maximumKernel,
  minimumKernel,
  multiplyKernel,
  realDivKernel,
  squaredDifferenceKernel,
  subKernel,
} from './binary';
import { fusedBatchNormKernel } from './batch-norm';
import { clipByValueKernel, reluKernel, signKernel, stepKernel } from './elementwise';
import { fusedConv2DKernel } from './fused-conv2d';
import { fusedMatMulKernel } from './fused-matmul';
import { maxPoolKernel } from './max-pool';
import { maxPoolGradKernel } from './max-pool-grad';
import { meanKernel, sumKernel } from './reduce';
import { tileKernel } from './tile';
import type { NativeKernel } from './util';

export type { NativeKernel } from './util';

/** Every kernel the native backend overrides; all other kernels are the cpu backend's. */
export const NATIVE_KERNELS: readonly NativeKernel[] = [
  conv2DKernel,
  fusedConv2DKernel,
  conv2DBackpropInputKernel,
  conv2DBackpropFilterKernel,
  batchMatMulKernel,
  fusedMatMulKernel,
  maxPoolKernel,
  maxPoolGradKernel,
  avgPoolKernel,
  avgPoolGradKernel,
  reluKernel,
  stepKernel,
  signKernel,
  clipByValueKernel,
  addKernel,
  subKernel,
  multiplyKernel,
  realDivKernel,
  maximumKernel,
  minimumKernel,
  squaredDifferenceKernel,
  sumKernel,
  meanKernel,
  tileKernel,
  fusedBatchNormKernel,
];
