export * from './schema';
export * from './presets';
export * from './merge';
