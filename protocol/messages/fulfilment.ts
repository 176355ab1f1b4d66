// The fulfilment event: when a contract's delivery window closes, each gateway named as a delivery
// point signs what its own meter proofs show against what was contracted. Chained like proofs.
import { z } from 'zod';
import {
  chainFields,
  chainRules,
  contractId,
  hash32,
  interval,
  intervalOrderRules,
  nonNegativeInt,
  parseWith,
  type RuleIssue,
  uniqueRules,
  utcMs,
  withRules,
} from './common.js';

export const FULFILMENT_TYP = 'wattproof.fulfilment.v1';

export const FULFILMENT_OUTCOMES = ['fulfilled', 'partial', 'failed'] as const;

const structure = z.strictObject({
  ...chainFields,
  contract: contractId,
  /** Which side of the contract this gateway meters. */
  role: z.enum(['seller', 'buyer']),
  /** The contract's delivery window. */
  window: interval,
  /** What the contract asks of this side over the window, Wh. */
  contractedWh: nonNegativeInt,
  /** What this side's proofs show: exported Wh for the seller, imported Wh for the buyer. */
  measuredWh: nonNegativeInt,
  outcome: z.enum(FULFILMENT_OUTCOMES),
  /** base64url message hashes of the meter proofs the measurement rests on, in seq order. */
  proofs: z.array(hash32).max(10_000),
  signedAt: utcMs,
});

/** fulfilled ⇔ measured ≥ contracted; failed ⇔ measured = 0 < contracted; partial otherwise. */
export function fulfilmentOutcome(
  contractedWh: number,
  measuredWh: number,
): (typeof FULFILMENT_OUTCOMES)[number] {
  if (measuredWh >= contractedWh) return 'fulfilled';
  return measuredWh === 0 ? 'failed' : 'partial';
}

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out = [
    ...chainRules(v),
    ...intervalOrderRules(v.window, ['window']),
    ...uniqueRules(v.proofs, ['proofs']),
  ];
  const expected = fulfilmentOutcome(v.contractedWh, v.measuredWh);
  if (v.outcome !== expected)
    out.push({
      path: ['outcome'],
      message: `must be "${expected}" for contractedWh ${v.contractedWh} and measuredWh ${v.measuredWh}`,
    });
  if (v.signedAt < v.window.end)
    out.push({
      path: ['signedAt'],
      message: 'is before window.end: fulfilment is signed after the window closes',
    });
  return out;
}

export const fulfilmentEventSchema = withRules(structure, rules);
export type FulfilmentEvent = z.output<typeof fulfilmentEventSchema>;

export function parseFulfilmentEvent(payload: unknown) {
  return parseWith(fulfilmentEventSchema, payload);
}
