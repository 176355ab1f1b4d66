// The wire: what gateways, the hub, the validator and outside verifiers all agree on.
export * from './bytes.js';
export * from './chain.js';
export * from './checkpoint.js';
export * from './hash.js';
export * from './identity.js';
export * from './jws.js';
export * from './keys.js';
export * from './merkle.js';
