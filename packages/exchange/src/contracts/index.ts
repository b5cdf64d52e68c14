export * from './contract';
export * from './fields';
export * from './exchange-header';
export * from './run-state';
export * from './slot-lease';
export * from './worker-record';
export * from './metrics-entry';
export * from './jobs';
