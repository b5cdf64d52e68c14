export * from './process-trainer';
