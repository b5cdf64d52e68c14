export * from './create-dashboard';
export * from './metrics-entry';
export * from './worker-health';
export * from './run-reader';
export * from './run-id';
export * from './chart-core';
