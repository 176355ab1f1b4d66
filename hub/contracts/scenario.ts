// A ready-made world for tests and the worked example in docs/contracts.md: a hub, a validator,
// a seller household with gateway A and a buyer household with gateway B, both registered and
// funded, and one signed, approved and activated energy contract over four 15-minute intervals.
import { b64url, canonicalJson, sha256, utf8 } from '../../protocol/index.js';
import { EXAMPLE_KEYS, EXAMPLE_T0, type ExampleKey } from '../../protocol/messages/examples.js';
import { contractIdOf, type EnergyContract, type ValidatorDecision } from '../../protocol/messages/index.js';
import type { FoldConfig } from './fold.js';
import { LogBuilder } from './log-builder.js';

export const Q = 900_000;
export const K = EXAMPLE_KEYS;

export const SCENARIO_CONFIG: FoldConfig = {
  hubKids: [K.hub.id],
  validatorKids: [K.validator.id],
  currency: 'EUR',
};

/** The contract of the worked example: 1000 Wh per interval, 4 intervals, 29 ct/kWh, penalty 20 ct/kWh. */
export function scenarioContract(overrides: Partial<EnergyContract> = {}): EnergyContract {
  return {
    product: 'energy',
    seller: K.seller.id,
    buyer: K.buyer.id,
    energy: 'electricity',
    settlementPeriodMs: Q,
    window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q },
    currency: 'EUR',
    deliveryPoints: {
      seller: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
      buyer: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
    },
    deposits: { seller: 60, buyer: 120 },
    disputeWindowMs: 86_400_000,
    nonce: 'c2NlbmFyaW8tY29udHJhY3QtMQ',
    createdAt: EXAMPLE_T0 - 86_400_000,
    quantity: { wh: 1000, per: 'interval' },
    priceMinorPerKWh: 29,
    penaltyMinorPerKWh: 20,
    ...overrides,
  };
}

export function decision(
  kind: ValidatorDecision['kind'],
  subject: string,
  outcome: ValidatorDecision['outcome'],
  at: number,
  reasons: ValidatorDecision['reasons'] = [],
): ValidatorDecision {
  return { kind, subject, outcome, reasons, inputsHash: b64url.encode(sha256('policy')), at };
}

const secretOf = new Map<string, Uint8Array>(Object.values(K).map((k: ExampleKey) => [k.id, k.secretKey]));

export function newBuilder(sign = false): LogBuilder {
  return new LogBuilder(
    sign
      ? {
          sign: true,
          secretKeyFor: (kid) => {
            const s = secretOf.get(kid);
            if (s === undefined) throw new Error(`no example key ${kid}`);
            return s;
          },
        }
      : {},
  );
}

/**
 * Registers and funds both households (seller 500, buyer 1000 minor units) and appends the
 * contract's two signatures, its approval and its activation. Returns the builder to continue.
 */
export function registeredWorld(
  opts: { sign?: boolean; contract?: EnergyContract; activate?: boolean } = {},
) {
  const b = newBuilder(opts.sign ?? false);
  const t = EXAMPLE_T0 - 10 * 86_400_000;
  b.binding(K.hub.id, K.gatewayA, K.seller.id, t);
  b.binding(K.hub.id, K.gatewayB, K.buyer.id, t);
  const app = {
    energies: ['electricity' as const],
    region: 'north',
    gridNode: 'bus-3',
    capacityW: 10_000,
    at: t + 1,
  };
  b.application(K.seller, { role: 'producer', gateways: [K.gatewayA.id], ...app });
  b.application(K.buyer, { role: 'household', gateways: [K.gatewayB.id], ...app });
  b.decision(K.validator.id, decision('registration', K.seller.id, 'approved', t + 2));
  b.decision(K.validator.id, decision('registration', K.buyer.id, 'approved', t + 2));
  b.credit(K.hub.id, K.seller.id, 500, t + 3);
  b.credit(K.hub.id, K.buyer.id, 1000, t + 3);
  const contract = opts.contract ?? scenarioContract();
  const [first] = b.contract(contract);
  const id = contractIdFromEntry(first?.payload);
  b.decision(K.validator.id, decision('contract-review', id, 'approved', EXAMPLE_T0 - 3_600_000));
  if (opts.activate ?? true) b.activation(K.hub.id, id, EXAMPLE_T0 - 1_800_000);
  return { b, contract, id };
}

export function contractIdFromEntry(payload: unknown): string {
  return contractIdOf(b64url.encode(utf8(canonicalJson(payload))));
}
