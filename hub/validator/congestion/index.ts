// Congestion management for the validator: grid model, DC power flow and PTDFs, the two contract
// methods (congestion price, minimum adjustment), DC-OPF and LMPs, and recomputable decisions.
export * from './canonical.js';
export * from './contracts.js';
export * from './dc-flow.js';
export * from './dc-opf.js';
export * from './decision.js';
export * from './grid-model.js';
export * from './lp.js';
export * from './lu.js';
export * from './redispatch.js';
