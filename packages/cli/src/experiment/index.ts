export * from './spec';
export * from './plan';
export * from './run-state';
export * from './runner';
export * from './aggregate';
export * from './study-report';
