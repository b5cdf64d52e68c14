export * from './process-trainer';
export * from './coordinator';
export * from './run-records';
export * from './live-metrics';
