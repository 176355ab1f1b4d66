// The contracts part of the hub: the deterministic fold of the log into participants, accounts
// and contracts, the settlement rule, the entry types it adds, and the simple review rules.
export * from './accounts.js';
export * from './fold.js';
export * from './fulfilment-check.js';
export * from './lifecycle.js';
export * from './messages.js';
export * from './proof-rules.js';
export * from './review-rules.js';
export * from './settlement.js';
