// The capacity rule across products (policy `contracts.capacityAcrossProducts`): a seller's energy
// contracts and flexibility contracts over the same hours share one connection, so their powers
// add up against its registered capacityW. Without the key each product is checked on its own (as
// before the key), which keeps logs decided under older policies verifying.
import { describe, expect, it } from 'vitest';
import { signJws } from '../../protocol/index.js';
import { EXAMPLE_T0, exampleFlexibilityContract } from '../../protocol/messages/examples.js';
import {
  type Contract,
  type FlexibilityContract,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import { canonicalText } from './congestion/canonical.js';
import { peakCombinedPower, reviewContractLegality } from './contract-review.js';
import {
  CFG,
  compliantContract,
  DAY,
  fold,
  K,
  POLICY,
  POLICY_INPUT,
  propose,
  Q,
  registeredWorld,
  runValidator,
  T_REVIEW,
} from './fixtures.js';
import { parsePolicy, policyHashOf, type ValidatorPolicy } from './policy.js';
import { reviewInputsHash, Validator } from './validator.js';
import { verifyValidatorDecisions } from './verify-decisions.js';

const ACROSS = parsePolicy({
  ...POLICY_INPUT,
  contracts: { ...POLICY_INPUT.contracts, capacityAcrossProducts: true },
});
const big = { deposits: { seller: 100_000, buyer: 100_000 } };
const NEXT_HOUR = { start: EXAMPLE_T0 + 4 * Q, end: EXAMPLE_T0 + 8 * Q };

/** 1500 Wh per 15 min: 6000 W on average over the hour from EXAMPLE_T0 (the seller registered 10 000 W). */
const energy6kW = (overrides: Parameters<typeof compliantContract>[0] = {}) =>
  compliantContract({ quantity: { wh: 1500, per: 'interval' }, ...big, ...overrides });

/** A flexibility contract of the same seller over the same hour. */
function flex(overrides: Partial<FlexibilityContract>): FlexibilityContract {
  return {
    ...exampleFlexibilityContract(),
    disputeWindowMs: DAY,
    availabilityMinor: 150,
    ...big,
    ...overrides,
  };
}

const validatorOf = (policy: ValidatorPolicy) =>
  new Validator({ secretKey: K.validator.secretKey, policy, currency: 'EUR' });

/** A registered world where the validator (under `policy`) approved `first`; returns it and its id. */
function worldWith(first: Contract, policy: ValidatorPolicy = ACROSS) {
  const v = validatorOf(policy);
  const b = registeredWorld(v, false);
  const id = propose(b, first as Parameters<typeof propose>[1]);
  runValidator(b, v, T_REVIEW);
  const s = fold(b);
  expect(s.contracts[id]?.status).toBe('approved');
  return { b, v, id, s };
}

const review = (c: Contract, s: ReturnType<typeof fold>, policy: ValidatorPolicy = ACROSS) =>
  reviewContractLegality(c, s, T_REVIEW, policy, { currency: 'EUR' });

describe('capacity across products', () => {
  it('refuses a flexibility contract that, with an energy contract over the same hours, exceeds capacity', () => {
    const { id, s } = worldWith(energy6kW());
    const c = flex({ maxDischargeW: 6000, maxChargeW: 0 });
    const r = review(c, s);
    expect(r.outcome).toBe('refused');
    expect(r.reasons.map((x) => x.code)).toEqual(['capacity-exceeded']);
    const message = r.reasons[0]?.message ?? '';
    expect(message).toContain(`energy: ${id}`);
    expect(message).toContain('6000 W of contracted energy on average plus 6000 W of flexibility');
    expect(message).toContain('12000 W in all, above its registered capacity of 10000 W');
    // Each product on its own fits: without the key (policies written before it) both pass.
    expect(review(c, s, POLICY)).toEqual({ outcome: 'approved', reasons: [] });
  });

  it('refuses an energy contract over the hours of an approved flexibility contract (the other order)', () => {
    const { id, s } = worldWith(flex({ maxDischargeW: 6000, maxChargeW: 0 }));
    const r = review(energy6kW(), s);
    expect(r.reasons.map((x) => x.code)).toEqual(['capacity-exceeded']);
    expect(r.reasons[0]?.message).toContain(`energy: none; flexibility: ${id}`);
    // Charge can be called for too: the connection is held for the larger direction.
    const charging = worldWith(flex({ maxDischargeW: 0, maxChargeW: 6000 }));
    expect(review(energy6kW(), charging.s).outcome).toBe('refused');
  });

  it('passes both when their windows do not overlap (touching ends included)', () => {
    const { s } = worldWith(energy6kW());
    expect(review(flex({ maxDischargeW: 6000, maxChargeW: 0, window: NEXT_HOUR }), s)).toEqual({
      outcome: 'approved',
      reasons: [],
    });
    const later = worldWith(flex({ maxDischargeW: 10_000, maxChargeW: 10_000, window: NEXT_HOUR }));
    expect(review(energy6kW(), later.s).outcome).toBe('approved');
  });

  it('passes exactly at capacity and refuses one watt above', () => {
    const { s } = worldWith(energy6kW());
    // 6000 W + max(4000 discharge, 3000 charge) = 10 000 W.
    expect(review(flex({ maxDischargeW: 4000, maxChargeW: 3000 }), s).outcome).toBe('approved');
    const over = review(flex({ maxDischargeW: 3000, maxChargeW: 4001 }), s);
    expect(over.reasons.map((x) => x.code)).toEqual(['capacity-exceeded']);
    expect(over.reasons[0]?.message).toContain('10001 W in all');
  });

  it('counts only the contracts in force at the peak, and a fractional average exactly', () => {
    // Energy in the second half hour only; flexibility over the whole hour: they meet from 10:30.
    const halfHour = { start: EXAMPLE_T0 + 2 * Q, end: EXAMPLE_T0 + 4 * Q };
    const { id, s } = worldWith(energy6kW({ window: halfHour }));
    const peak = peakCombinedPower(flex({ maxDischargeW: 4000, maxChargeW: 0 }), s);
    expect(peak).toMatchObject({
      at: halfHour.start,
      flexibilityW: 4000,
      energyIds: [id],
      flexibilityIds: [],
    });
    expect(peak.num / peak.den).toBe(10_000n);
    // 7499 Wh over 45 min is 9998.666… W: 1 W of flexibility fits beside it, 2 W do not.
    const odd = worldWith(
      energy6kW({
        quantity: { wh: 7499, per: 'window' },
        window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 3 * Q },
      }),
    );
    expect(review(flex({ maxDischargeW: 1, maxChargeW: 0 }), odd.s).outcome).toBe('approved');
    const over = review(flex({ maxDischargeW: 2, maxChargeW: 0 }), odd.s);
    expect(over.reasons[0]?.message).toContain('9998.666 W of contracted energy on average plus 2 W');
    expect(over.reasons[0]?.message).toContain('10000.666 W in all');
  });

  it('a policy without the key hashes as before: no default is filled in', () => {
    expect(canonicalText(POLICY)).not.toContain('capacityAcrossProducts');
    expect(policyHashOf(ACROSS)).not.toBe(policyHashOf(POLICY));
    expect(() =>
      parsePolicy({
        ...POLICY_INPUT,
        contracts: { ...POLICY_INPUT.contracts, capacityAcrossProducts: 'yes' },
      }),
    ).toThrow(/contracts\.capacityAcrossProducts: must be true or false/);
  });
});

describe('capacity across products: the validator decides, verify recomputes', () => {
  /** Energy (6000 W) then flexibility (6000 W discharge) over the same hour, both proposed, reviewed by `policy`. */
  function bothProposed(policy: ValidatorPolicy) {
    const v = validatorOf(policy);
    const b = registeredWorld(v, false);
    const e = propose(b, energy6kW());
    b.contract(flex({ maxDischargeW: 6000, maxChargeW: 0 }));
    runValidator(b, v, T_REVIEW);
    const s = fold(b);
    const f = Object.keys(s.contracts).find((k) => k !== e) as string;
    return { b, s, e, f };
  }

  it('under the key the second is refused, and verify recomputes both reviews', () => {
    const { b, s, e, f } = bothProposed(ACROSS);
    expect(s.contracts[e]?.status).toBe('approved');
    expect(s.contracts[f]?.status).toBe('refused');
    expect(s.contracts[f]?.review?.reasons.map((x) => x.code)).toEqual(['capacity-exceeded']);
    const r = verifyValidatorDecisions(b.entries, ACROSS, undefined, { config: CFG });
    expect(r).toMatchObject({ ok: true, checked: 4 });
  });

  it('a log decided without the key (both approved) still verifies under its own policy', () => {
    const { b, s, e, f } = bothProposed(POLICY);
    expect([s.contracts[e]?.status, s.contracts[f]?.status]).toEqual(['approved', 'approved']);
    expect(verifyValidatorDecisions(b.entries, POLICY, undefined, { config: CFG })).toMatchObject({
      ok: true,
      checked: 4,
    });
  });

  it('flags an approval under the key that the summed capacity refuses', () => {
    const v = validatorOf(ACROSS);
    const b = registeredWorld(v, false);
    propose(b, energy6kW());
    runValidator(b, v, T_REVIEW);
    const [first] = b.contract(flex({ maxDischargeW: 6000, maxChargeW: 0 }));
    const s = fold(b);
    const f = Object.values(s.contracts).find((r) => r.status === 'proposed')?.id as string;
    expect(first).toBeDefined();
    // Validly signed, citing the policy with the key, but approving what the rule refuses.
    const policyHash = policyHashOf(ACROSS);
    const stateSize = b.entries.length;
    const forged: ValidatorDecision = {
      kind: 'contract-review',
      subject: f,
      outcome: 'approved',
      reasons: [],
      at: T_REVIEW,
      policyHash,
      stateSize,
      inputsHash: reviewInputsHash('contract-review', f, policyHash, stateSize),
    };
    b.appendSigned(signJws(VALIDATOR_DECISION_TYP, K.validator.id, forged, K.validator.secretKey));
    const r = verifyValidatorDecisions(b.entries, ACROSS, undefined, { config: CFG });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ subject: f, reason: 'outcome-mismatch' });
    expect(r.failure?.detail).toContain('the rules give refused [capacity-exceeded]');
  });
});
