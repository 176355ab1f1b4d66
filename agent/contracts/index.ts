// The agent's contract watcher: pure decision core, scheduled class, SQLite store, outbox wiring,
// and the check of a contract the hub sends.
export * from './market-match.js';
export * from './outbox-enqueue.js';
export * from './receive.js';
export * from './store.js';
export * from './watcher.js';
export * from './watcher-core.js';
