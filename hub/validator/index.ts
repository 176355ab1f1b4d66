// The validator (the weak center): policy, qualification review, contract legality review, the
// validator service that signs decisions, congestion from the folded state, and the verifier that
// recomputes every recorded decision. Congestion's library is in ./congestion.
export * from './congestion-state.js';
export * from './contract-review.js';
export * from './policy.js';
export * from './registration-review.js';
export * from './validator.js';
export * from './verify-decisions.js';
