// A small world for the validator's tests and docs/validator.md's example: the policy, a three-bus
// grid, a seller (producer at bus-1, gateway A) and a buyer (household at bus-3, gateway B) who
// have applied, and a contract that every rule passes. The Validator signs with the example
// validator key; the log is built with real signatures unless asked otherwise.
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import type { EnergyContract } from '../../protocol/messages/index.js';
import { foldLog, type LedgerState } from '../contracts/fold.js';
import type { LogBuilder } from '../contracts/log-builder.js';
import {
  contractIdFromEntry,
  K,
  newBuilder,
  Q,
  SCENARIO_CONFIG,
  scenarioContract,
} from '../contracts/scenario.js';
import { type GridModel, parseGridModel } from './congestion/grid-model.js';
import type { Highs } from './congestion/lp.js';
import { parsePolicy, type ValidatorPolicyInput } from './policy.js';
import { Validator } from './validator.js';

export { K, Q, SCENARIO_CONFIG as CFG };
export const DAY = 86_400_000;
export const HOUR = 3_600_000;
export const T_APPLY = EXAMPLE_T0 - 10 * DAY;
/** The review time of the compliant contract: exactly the policy's lead time before its window. */
export const T_REVIEW = EXAMPLE_T0 - HOUR;

export const POLICY_INPUT: ValidatorPolicyInput = {
  version: 1,
  name: 'test-north',
  registration: {
    regions: { north: { gridNodes: ['bus-1', 'bus-2', 'bus-3'] }, south: { gridNodes: 'any' } },
    roles: {
      household: {
        minGateways: 1,
        energies: {
          electricity: { maxCapacityW: 30_000, humanReviewAboveW: 20_000 },
          heat: { maxCapacityW: 15_000 },
        },
      },
      producer: {
        minGateways: 1,
        energies: { electricity: { maxCapacityW: 1_000_000, humanReviewAboveW: 100_000 } },
      },
      utility: {
        minGateways: 0,
        humanReview: 'always',
        energies: { electricity: { maxCapacityW: 100_000_000 } },
      },
    },
  },
  contracts: {
    prices: { electricity: { floorMinorPerKWh: 5, capMinorPerKWh: 300 } },
    leadTimeMs: HOUR,
    settlementPeriodsMs: [900_000, 3_600_000],
    maxWindowMs: 7 * DAY,
    minDisputeWindowMs: HOUR,
    buyerDepositCoversPayment: true,
    humanReviewAboveWh: 1_000_000,
  },
  congestion: { method: 'min-adjustment', weights: { default: 1 } },
};
export const POLICY = parsePolicy(POLICY_INPUT);

/** Three buses in a triangle (x = 0.1 pu each), slack bus-3; line bus-1→bus-3 limited to `limitW`. */
export function triangleGrid(limitW = 2_000): GridModel {
  return parseGridModel({
    name: 'triangle',
    source: 'hand-made',
    baseMVA: 100,
    slack: 'bus-3',
    buses: ['bus-1', 'bus-2', 'bus-3'].map((id) => ({ id, region: 'north' })),
    lines: [
      { id: '1-2', from: 'bus-1', to: 'bus-2', x: 0.1, limitW: 1_000_000 },
      { id: '2-3', from: 'bus-2', to: 'bus-3', x: 0.1, limitW: 1_000_000 },
      { id: '1-3', from: 'bus-1', to: 'bus-3', x: 0.1, limitW },
    ],
  });
}

/** The compliant contract: 1000 Wh per 15 min (4000 W ≤ 10 000 W), 29/kWh, deposits covering all. */
export function compliantContract(overrides: Partial<EnergyContract> = {}): EnergyContract {
  return scenarioContract({ deposits: { seller: 80, buyer: 120 }, ...overrides });
}

export function makeValidator(opts: { gridModel?: GridModel; highs?: Highs } = {}): Validator {
  return new Validator({ secretKey: K.validator.secretKey, policy: POLICY, currency: 'EUR', ...opts });
}

/** Bindings and both applications; nothing decided yet. */
export function appliedWorld(sign = true): LogBuilder {
  const b = newBuilder(sign);
  b.binding(K.hub.id, K.gatewayA, K.seller.id, T_APPLY);
  b.binding(K.hub.id, K.gatewayB, K.buyer.id, T_APPLY);
  const app = { energies: ['electricity' as const], region: 'north', capacityW: 10_000, at: T_APPLY + 1 };
  b.application(K.seller, { role: 'producer', gateways: [K.gatewayA.id], gridNode: 'bus-1', ...app });
  b.application(K.buyer, { role: 'household', gateways: [K.gatewayB.id], gridNode: 'bus-3', ...app });
  return b;
}

export const fold = (b: LogBuilder): LedgerState => foldLog(b.entries, SCENARIO_CONFIG);

/** Folds, asks the validator for its decisions, appends them; repeats until none come back. */
export function runValidator(b: LogBuilder, v: Validator, at: number): void {
  for (let round = 0; round < 10; round++) {
    const ds = v.review(fold(b), at);
    if (ds.length === 0) return;
    for (const d of ds) b.appendSigned(d.compact);
  }
}

/** Registered (by the validator) and funded: seller 500, buyer 1000. */
export function registeredWorld(v: Validator = makeValidator(), sign = true): LogBuilder {
  const b = appliedWorld(sign);
  runValidator(b, v, T_APPLY + 2);
  b.credit(K.hub.id, K.seller.id, 500, T_APPLY + 3);
  b.credit(K.hub.id, K.buyer.id, 1000, T_APPLY + 3);
  return b;
}

/** Appends both signatures of `c`; returns its id. */
export function propose(b: LogBuilder, c: EnergyContract): string {
  const [first] = b.contract(c);
  return contractIdFromEntry(first?.payload);
}

/** A registered world with the compliant contract approved by the validator and activated. */
export function activeWorld(contract: EnergyContract = compliantContract(), v: Validator = makeValidator()) {
  const b = registeredWorld(v);
  const id = propose(b, contract);
  runValidator(b, v, T_REVIEW);
  b.activation(K.hub.id, id, EXAMPLE_T0 - 1_800_000);
  return { b, id, v };
}

/** Gateway A's export and gateway B's import proofs, per 15-minute interval (null = no proof). */
export function deliver(
  b: LogBuilder,
  seller: (number | null)[],
  buyer: (number | null)[],
  counters = { a: { importWh: 5_000, exportWh: 80_000 }, b: { importWh: 40_000, exportWh: 1_000 } },
  first = 0,
) {
  for (let i = 0; i < Math.max(seller.length, buyer.length); i++) {
    const start = EXAMPLE_T0 + (first + i) * Q;
    const s = seller[i];
    if (s !== null && s !== undefined)
      b.proof(K.gatewayA.id, 'grid-meter', start, Q, { importWh: 3, exportWh: s }, counters.a);
    const y = buyer[i];
    if (y !== null && y !== undefined)
      b.proof(K.gatewayB.id, 'grid-meter', start, Q, { importWh: y, exportWh: 0 }, counters.b);
  }
  return counters;
}
