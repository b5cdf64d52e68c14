export * from './schema';
export * from './presets';
export * from './merge';
export * from './run-name';
