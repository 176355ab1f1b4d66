// The market's ledger entries (auction results, matches) are protocol messages: every verifier
// knows them. This module keeps the names the market code imports.
export * from '../../protocol/messages/market.js';
