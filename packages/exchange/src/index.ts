export * from './redis-keys';
export * from './peer-exchange';
export * from './message-codec';
export * from './message-inbox';
export * from './ipc-exchange';
export * from './redis-exchange';
export * from './redis-connection';
export * from './run-store';
