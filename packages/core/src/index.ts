export * from './rng';
export * from './models/model';
export * from './attacks';
export * from './losses';
export * from './data';
export * from './backend';
