// The rule by which proofs count is the protocol's (protocol/proof-rules.ts).
export * from '../../protocol/proof-rules.js';
