// The market part of the hub: order books, the uniform-price auction and continuous matching,
// contracts from matches (and their place in the contracts fold), price statistics and
// publications, and flexibility settlement.
export * from './auction.js';
export * from './book.js';
export * from './continuous.js';
export * from './contract-fold.js';
export * from './contracts.js';
export * from './flexibility.js';
export * from './fold.js';
export * from './messages.js';
export * from './plan.js';
export * from './prices.js';
export * from './rules.js';
