export * from './rng';
export * from './models';
export * from './attacks';
export * from './losses';
export * from './data';
export * from './backend';
export * from './config';
export * from './train';
