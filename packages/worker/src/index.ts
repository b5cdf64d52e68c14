import * as path from 'path';

export * from './peer-step';
export * from './stale-peer-step';
export * from './peer-runner';
export * from './train-loop';
export * from './embedded/protocol';

/** The compiled entry of one embedded peer process (from src/ under jest as from dist/). */
export function childMainPath(): string {
  return path.resolve(__dirname, '..', 'dist', 'embedded', 'child-main.js');
}
export * from './redis/redis-worker';
export * from './redis/evaluation-jobs';
export * from './redis/gpu-claim';
export * from './redis/visible-gpus';
