export * from './cross-entropy';
export * from './kl-divergence';
export * from './stop-gradient';
export * from './madry';
export * from './trades';
export * from './mat';
export * from './registry';
