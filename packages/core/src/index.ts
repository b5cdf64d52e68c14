export * from './rng';
export * from './models/model';
export * from './attacks/attack';
export * from './data';
export * from './backend';
