export * from './engine.js';
export * from './rules.js';
