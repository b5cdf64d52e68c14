export * from './ensemble';
export * from './threat-models';
export * from './union';
export * from './suite';
