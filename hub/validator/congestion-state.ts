// From the folded state to a congestion decision for one settlement interval, and from a
// congestion decision to the fields of the signed validator decision. Both the Validator and
// `verify` use these, so the inputs a verifier rebuilds from the log are the ones the validator
// hashed.
import type { Reason, ValidatorDecision } from '../../protocol/messages/index.js';
import type { ContractRecord, LedgerState } from '../contracts/fold.js';
import { canonicalHashB64url } from './congestion/canonical.js';
import type { CongestionContract, SettlementInterval } from './congestion/contracts.js';
import {
  type CongestionInputs,
  type CongestionOutputs,
  type CongestionRequest,
  congestionInputs,
} from './congestion/decision.js';
import type { GridModel } from './congestion/grid-model.js';
import type { Highs } from './congestion/lp.js';
import { MORE_IN_INPUTS_REASON, NODAL_CONGESTION_REASON, nodalCongestionHead } from './congestion-prices.js';
import type { ValidatorPolicy } from './policy.js';

/** Contracts whose quantities flow in an interval: approved and not ended. */
const FLOWING: readonly ContractRecord['status'][] = ['approved', 'active', 'delivering', 'stopping'];

/** ceil(a × b / c) exactly. */
function mulDivCeil(a: number, b: number, c: number): number {
  return Number((BigInt(a) * BigInt(b) + BigInt(c) - 1n) / BigInt(c));
}

export interface CongestionRequestFromState {
  request: CongestionRequest;
  /** Contracts left out because a party's grid node is not a bus of the grid model. */
  unplaced: string[];
}

/**
 * The congestion request for `interval`: every approved, not ended electricity contract whose
 * window overlaps it, at its energy in the interval (ceil of its quantity × overlap / its period, or
 * / its window for a per-window quantity), from the seller's grid node to the buyer's. The class of
 * a contract (for weights and firmness) is its energy type.
 */
export function congestionRequestFromState(
  state: LedgerState,
  interval: SettlementInterval,
  gridModel: GridModel,
  policy: NonNullable<ValidatorPolicy['congestion']>,
): CongestionRequestFromState {
  const buses = new Set(gridModel.buses.map((b) => b.id));
  const contracts: CongestionContract[] = [];
  const unplaced: string[] = [];
  for (const id of Object.keys(state.contracts).sort()) {
    const rec = state.contracts[id] as ContractRecord;
    const c = rec.contract;
    if (!FLOWING.includes(rec.status) || c.product !== 'energy' || c.energy !== 'electricity') continue;
    const end = rec.status === 'stopping' && rec.stop !== null ? rec.stop.endsAt : c.window.end;
    const overlap = Math.min(end, interval.end) - Math.max(c.window.start, interval.start);
    if (overlap <= 0) continue;
    const per = c.quantity.per === 'interval' ? c.settlementPeriodMs : c.window.end - c.window.start;
    const quantityWh = mulDivCeil(c.quantity.wh, overlap, per);
    if (quantityWh <= 0) continue;
    const sellerBus = state.registry.participants[c.seller]?.gridNode;
    const buyerBus = state.registry.participants[c.buyer]?.gridNode;
    if (sellerBus === undefined || buyerBus === undefined || !buses.has(sellerBus) || !buses.has(buyerBus)) {
      unplaced.push(id);
      continue;
    }
    contracts.push({
      id,
      sellerBus,
      buyerBus,
      quantityWh,
      priceMinorPerKWh: c.priceMinorPerKWh,
      class: c.energy,
    });
  }
  return { request: { gridModel, interval, contracts, policy }, unplaced };
}

/**
 * The canonical congestion inputs of one interval of one state and their hash, built once. The
 * engine's congestion step builds them to compare the hash with the interval's latest decision and,
 * when they differ, hands them to Validator.congestion, which signs them without building and
 * hashing them again (the same bytes it would build itself). `verify` builds its own.
 */
export interface PreparedCongestion {
  /** The size of the state they were built from (Validator.congestion checks it). */
  stateSize: number;
  inputs: CongestionInputs;
  /** base64url SHA-256 of the inputs' canonical JSON. */
  inputsHash: string;
  /** Contracts left out because a party's grid node is not a bus of the grid model. */
  unplaced: string[];
}

/** Canonical inputs and their hash for a request built from a state of `stateSize` entries. */
export function prepareCongestion(
  highs: Highs,
  stateSize: number,
  { request, unplaced }: CongestionRequestFromState,
): PreparedCongestion {
  const inputs = congestionInputs(highs, request);
  return { stateSize, inputs, inputsHash: canonicalHashB64url(inputs), unplaced };
}

const MAX_REASONS = 100;
const MAX_MESSAGE = 500;

/** `values` as reasons of `code`, each message `head id value, id value…` within MAX_MESSAGE. */
function packed(code: string, head: string, values: Readonly<Record<string, number>>): Reason[] {
  const out: Reason[] = [];
  let message = '';
  for (const [id, v] of Object.entries(values).sort(byKey)) {
    const item = `${id} ${v}`;
    if (message !== '' && message.length + 2 + item.length > MAX_MESSAGE) {
      out.push({ code, message });
      message = '';
    }
    message = message === '' ? `${head} ${item}` : `${message}, ${item}`;
  }
  if (message !== '') out.push({ code, message });
  return out;
}
const byKey = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** The grid model a decision was made on, as its first reason names it. */
export interface GridModelRef {
  name: string;
  /** gridModelHash: SHA-256 (hex) of the model's canonical JSON. */
  hash: string;
}

/** Reason code naming the grid model (and its hash) a congestion decision was made on. */
export const GRID_MODEL_REASON = 'grid-model';

/**
 * The reasons, outcome and adjustments a signed congestion decision carries for these outputs.
 * The first reason names the grid model and its hash, so a verifier knows which file to fetch.
 */
export function congestionDecisionFields(
  outputs: CongestionOutputs,
  interval: SettlementInterval,
  grid: GridModelRef,
): Pick<ValidatorDecision, 'outcome' | 'reasons' | 'adjustments'> {
  const reasons: Reason[] = [
    { code: GRID_MODEL_REASON, message: `grid model ${grid.name}, SHA-256 ${grid.hash}` },
  ];
  for (const o of outputs.overloads)
    reasons.push({
      code: 'line-overload',
      message: `line ${o.line} would carry ${o.flowW} W, over its ${o.limitW} W limit`,
    });
  for (const r of outputs.refused)
    reasons.push({
      code: 'congestion-refused',
      message: `${r.contract} loads ${r.lines.map((l) => `${l.line} (${l.ptdfPerMille}‰)`).join(', ')}`,
    });
  // The prices of the constraint, published with the decision: each binding line's shadow price
  // μ (+ when the from→to limit binds) and each bus's congestion component (its price less the
  // slack's), both per MWh — minor units under congestion price, policy weight under minimum
  // adjustment. Packed as "id value" lists into as few reasons as fit (a message holds 500
  // characters), so even a large grid's prices take a few reasons and little of the entry.
  // congestion-prices.ts reads the nodal ones back.
  const unit = outputs.method === 'congestion-price' ? 'minor units' : 'weight';
  reasons.push(
    ...packed('line-shadow-prices', `μ, ${unit} per MWh:`, outputs.lineShadowPrices),
    ...packed(NODAL_CONGESTION_REASON, nodalCongestionHead(unit), outputs.nodalCongestion),
  );
  if (reasons.length > MAX_REASONS) {
    const more = reasons.length - (MAX_REASONS - 1);
    reasons.splice(MAX_REASONS - 1);
    reasons.push({
      code: MORE_IN_INPUTS_REASON,
      message: `${more} more; recompute the decision from its inputs`,
    });
  }
  if (outputs.outcome === 'adjusted')
    return {
      outcome: 'adjusted',
      reasons,
      adjustments: outputs.adjustments.map((a) => ({
        contract: a.contract,
        interval: { start: interval.start, end: interval.end },
        quantityWh: a.toWh,
      })),
    };
  return { outcome: outputs.outcome, reasons };
}
