export * from './atomic-write';
export * from './run-schedule';
export * from './run-records';
export * from './run-summary';
export * from './step-aggregator';
export * from './run-directory';
export * from './open-run';
export * from './progress';
