// Dispatch on the gateway: flexibility contracts, dispatch commands, the battery, the responses.
export * from './config.js';
export * from './contracts.js';
export * from './dispatcher.js';
export * from './hub-key.js';
export * from './receive.js';
export * from './refusals.js';
export * from './safety.js';
export * from './store.js';
export * from './wire.js';
