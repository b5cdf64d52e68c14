export * from './run-data';
export * from './build-report';
export * from './svg-charts';
export * from './markdown';
export * from './html';
