export * from './params';
export * from './init';
export * from './conv2d';
export * from './dense';
export * from './batch-norm';
export * from './input-normalization';
