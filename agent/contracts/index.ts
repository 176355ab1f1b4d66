// The agent's contract watcher: pure decision core, scheduled class, SQLite store, outbox wiring.
export * from './outbox-enqueue.js';
export * from './store.js';
export * from './watcher.js';
export * from './watcher-core.js';
