export * from './process-trainer';
export * from './coordinator';
export * from './run-records';
export * from './live-metrics';
export * from './run-progress';
export * from './run-timeline';
