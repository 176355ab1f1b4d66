import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleFlexibilityContract, exampleKey } from '../../protocol/messages/examples.js';
import type { Contract, FlexibilityContract } from '../../protocol/messages/index.js';
import type { LedgerState } from '../contracts/fold.js';
import { CONTRACT_RULE_CODES, contractRuleFailures, reviewContractLegality } from './contract-review.js';
import {
  compliantContract,
  DAY,
  fold,
  K,
  makeValidator,
  POLICY,
  POLICY_INPUT,
  propose,
  Q,
  registeredWorld,
  runValidator,
  T_REVIEW,
} from './fixtures.js';
import { parsePolicy, type ValidatorPolicy } from './policy.js';

const state = fold(registeredWorld(makeValidator(), false));
const review = (c: Contract, at = T_REVIEW, s: LedgerState = state, policy: ValidatorPolicy = POLICY) =>
  reviewContractLegality(c, s, at, policy, { currency: 'EUR' });
const big = { deposits: { seller: 100_000, buyer: 100_000 } };
const HOUR_WINDOW = { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q };

interface Case {
  code: (typeof CONTRACT_RULE_CODES)[number];
  contract: () => Contract;
  at?: number;
  policy?: ValidatorPolicy;
}

const stranger = exampleKey('stranger', 'pt');

const CASES: Case[] = [
  { code: 'currency-mismatch', contract: () => compliantContract({ currency: 'USD' }) },
  { code: 'self-dealing', contract: () => compliantContract({ buyer: K.seller.id }) },
  {
    code: 'self-dealing',
    contract: () =>
      compliantContract({
        deliveryPoints: {
          seller: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
          buyer: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
        },
      }),
  },
  { code: 'party-not-registered', contract: () => compliantContract({ buyer: stranger.id }) },
  {
    code: 'delivery-point-not-party',
    contract: () =>
      compliantContract({
        deliveryPoints: {
          seller: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
          buyer: [{ gw: K.gatewayA.id, meter: 'sub-meter' }],
        },
      }),
  },
  { code: 'energy-not-allowed', contract: () => compliantContract({ energy: 'heat' }) },
  {
    // 2600 Wh per 15 min = 10 400 W average, above the seller's 10 000 W.
    code: 'capacity-exceeded',
    contract: () => compliantContract({ quantity: { wh: 2600, per: 'interval' }, ...big }),
  },
  {
    code: 'price-not-regulated',
    contract: () => compliantContract(),
    policy: parsePolicy({ ...POLICY_INPUT, contracts: { ...POLICY_INPUT.contracts, prices: {} } }),
  },
  { code: 'price-below-floor', contract: () => compliantContract({ priceMinorPerKWh: 4 }) },
  { code: 'price-above-cap', contract: () => compliantContract({ priceMinorPerKWh: 301, ...big }) },
  // Penalty on the full 4000 Wh: ceil(4000 × 20 / 1000) = 80; payment ceil(4000 × 29 / 1000) = 116.
  {
    code: 'deposit-below-penalty',
    contract: () => compliantContract({ deposits: { seller: 79, buyer: 120 } }),
  },
  {
    code: 'deposit-below-payment',
    contract: () => compliantContract({ deposits: { seller: 80, buyer: 115 } }),
  },
  { code: 'window-not-future', contract: () => compliantContract(), at: EXAMPLE_T0 },
  { code: 'lead-time-too-short', contract: () => compliantContract(), at: EXAMPLE_T0 - Q },
  {
    // Not a contract the schema lets into the log; the rule stands on its own all the same.
    code: 'window-not-aligned',
    contract: () => compliantContract({ window: { start: EXAMPLE_T0 + 1, end: EXAMPLE_T0 + 4 * Q + 1 } }),
  },
  {
    code: 'period-not-allowed',
    contract: () => compliantContract({ settlementPeriodMs: 300_000, quantity: { wh: 4000, per: 'window' } }),
  },
  {
    code: 'window-too-long',
    contract: () =>
      compliantContract({
        settlementPeriodMs: 3_600_000,
        window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 8 * DAY },
        quantity: { wh: 4000, per: 'window' },
      }),
  },
  { code: 'dispute-window-too-short', contract: () => compliantContract({ disputeWindowMs: 1000 }) },
];

describe('contract legality rules: each passes the compliant contract and refuses its violation', () => {
  it('the compliant contract passes every rule', () => {
    expect(review(compliantContract())).toEqual({ outcome: 'approved', reasons: [] });
    expect(review(compliantContract(), EXAMPLE_T0 - 30 * DAY)).toEqual({ outcome: 'approved', reasons: [] });
  });

  it('every rule code has a violating case here', () => {
    expect(new Set(CASES.map((c) => c.code))).toEqual(new Set(CONTRACT_RULE_CODES));
  });

  for (const c of CASES)
    it(`${c.code}: refused with its code and a message`, () => {
      const r = review(c.contract(), c.at ?? T_REVIEW, state, c.policy ?? POLICY);
      expect(r.outcome).toBe('refused');
      const reason = r.reasons.find((x) => x.code === c.code);
      expect(reason?.message.length).toBeGreaterThan(10);
      // The same contract passes this rule under the compliant conditions (where the case changed the
      // policy or the time only, the contract itself is the compliant one).
      if (c.policy !== undefined || c.at !== undefined)
        expect(review(compliantContract()).outcome).toBe('approved');
    });

  it('capacity counts the seller’s other approved contracts over the window', () => {
    // Two contracts of 1500 Wh per 15 min (6000 W each): one fits in 10 000 W, both do not.
    const v = makeValidator();
    const b = registeredWorld(v, false);
    const first = compliantContract({ quantity: { wh: 1500, per: 'interval' }, ...big });
    const second = compliantContract({
      quantity: { wh: 1500, per: 'interval' },
      ...big,
      nonce: 'c2Vjb25kLWNvbnRyYWN0LTE',
    });
    propose(b, first);
    const id2 = propose(b, second);
    runValidator(b, v, T_REVIEW);
    const s = fold(b);
    const outcomes = Object.values(s.contracts).map((r) => [
      r.id === id2,
      r.status,
      r.review?.reasons.map((x) => x.code),
    ]);
    expect(outcomes).toContainEqual([false, 'approved', []]);
    expect(outcomes).toContainEqual([true, 'refused', ['capacity-exceeded']]);
    // A later window does not overlap, so it fits.
    const later = compliantContract({
      quantity: { wh: 1500, per: 'interval' },
      ...big,
      nonce: 'bGF0ZXItY29udHJhY3QtMTIz',
      window: { start: HOUR_WINDOW.end, end: HOUR_WINDOW.end + 4 * Q },
    });
    expect(review(later, T_REVIEW, s).outcome).toBe('approved');
  });

  it('queues a contract above the human-review quantity for a person', () => {
    // 1 000 001 Wh over one week: 5953 W average (fits), but above the 1 000 000 Wh threshold.
    const c = compliantContract({
      settlementPeriodMs: 3_600_000,
      window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 7 * DAY },
      quantity: { wh: 1_000_001, per: 'window' },
      deposits: { seller: 20_001, buyer: 29_001 },
    });
    expect(review(c)).toEqual({
      outcome: 'queued',
      reasons: [{ code: 'human-review-quantity', message: expect.stringContaining('1000001 Wh') }],
    });
  });

  it('standing mode leaves out the rules about the moment of review', () => {
    const c = compliantContract({ priceMinorPerKWh: 301, ...big });
    const codes = contractRuleFailures(c, state, EXAMPLE_T0 + Q, POLICY, {
      currency: 'EUR',
      mode: 'standing',
    }).map((r) => r.code);
    expect(codes).toEqual(['price-above-cap']);
  });
});

// Flexibility: 3000 W of charge or discharge over one hour (the most energy called for is
// 3000 Wh): the seller's deposit covers the penalty ceil(3000 × 60 / 1000) = 180; the buyer's the
// availability 150 and the response ceil(3000 × 30 / 1000) = 90. Availability 150 for 3 kW over
// 1 h is 50 000 per MW·h, inside the bounds below (10 000 … 100 000: 30 … 300 for this contract).
function compliantFlex(overrides: Partial<FlexibilityContract> = {}): FlexibilityContract {
  return {
    ...exampleFlexibilityContract(),
    disputeWindowMs: DAY,
    deposits: { seller: 180, buyer: 240 },
    ...overrides,
  };
}
const FLEX_POLICY = parsePolicy({
  ...POLICY_INPUT,
  contracts: {
    ...POLICY_INPUT.contracts,
    flexibility: {
      response: { floorMinorPerKWh: 10, capMinorPerKWh: 100 },
      availability: { floorMinorPerMWh: 10_000, capMinorPerMWh: 100_000 },
    },
  },
});
const reviewFlex = (c: Contract, at = T_REVIEW, s: LedgerState = state) => review(c, at, s, FLEX_POLICY);

const FLEX_CASES: { code: (typeof CONTRACT_RULE_CODES)[number]; contract: () => Contract; at?: number }[] = [
  { code: 'self-dealing', contract: () => compliantFlex({ buyer: K.seller.id }) },
  { code: 'party-not-registered', contract: () => compliantFlex({ buyer: stranger.id }) },
  {
    code: 'delivery-point-not-party',
    contract: () =>
      compliantFlex({
        deliveryPoints: {
          seller: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
          buyer: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
        },
      }),
  },
  // The seller registered 10 000 W: its storage cannot be called for 10 001 W.
  {
    code: 'capacity-exceeded',
    contract: () => compliantFlex({ maxDischargeW: 10_001, deposits: big.deposits, availabilityMinor: 501 }),
  },
  {
    code: 'capacity-exceeded',
    contract: () => compliantFlex({ maxChargeW: 10_001, deposits: big.deposits, availabilityMinor: 501 }),
  },
  { code: 'price-below-floor', contract: () => compliantFlex({ responseMinorPerKWh: 9 }) },
  { code: 'price-above-cap', contract: () => compliantFlex({ responseMinorPerKWh: 101, ...big }) },
  { code: 'price-below-floor', contract: () => compliantFlex({ availabilityMinor: 29 }) },
  { code: 'price-above-cap', contract: () => compliantFlex({ availabilityMinor: 301, ...big }) },
  { code: 'deposit-below-penalty', contract: () => compliantFlex({ deposits: { seller: 179, buyer: 240 } }) },
  { code: 'deposit-below-payment', contract: () => compliantFlex({ deposits: { seller: 180, buyer: 239 } }) },
  { code: 'window-not-future', contract: () => compliantFlex(), at: EXAMPLE_T0 },
  {
    code: 'window-not-aligned',
    contract: () => compliantFlex({ window: { start: EXAMPLE_T0 + 1, end: EXAMPLE_T0 + 4 * Q + 1 } }),
  },
];

describe('flexibility contract rules: each passes the compliant contract and refuses its violation', () => {
  it('the compliant flexibility contract passes every rule, with and without price bounds', () => {
    expect(reviewFlex(compliantFlex())).toEqual({ outcome: 'approved', reasons: [] });
    expect(review(compliantFlex())).toEqual({ outcome: 'approved', reasons: [] });
    // At the bounds exactly: still inside.
    expect(reviewFlex(compliantFlex({ responseMinorPerKWh: 10, availabilityMinor: 30 })).outcome).toBe(
      'approved',
    );
    expect(
      reviewFlex(compliantFlex({ responseMinorPerKWh: 100, availabilityMinor: 300, ...big })).outcome,
    ).toBe('approved');
  });

  for (const c of FLEX_CASES)
    it(`${c.code}: a flexibility contract refused with its code`, () => {
      const r = reviewFlex(c.contract(), c.at ?? T_REVIEW);
      expect(r.outcome).toBe('refused');
      expect(r.reasons.find((x) => x.code === c.code)?.message.length).toBeGreaterThan(10);
    });

  it('a policy whose flexibility floor is above its cap is refused, naming the key', () => {
    const bad = (flexibility: object) => () =>
      parsePolicy({ ...POLICY_INPUT, contracts: { ...POLICY_INPUT.contracts, flexibility } });
    expect(bad({ response: { floorMinorPerKWh: 11, capMinorPerKWh: 10 } })).toThrow(
      /contracts\.flexibility\.response\.floorMinorPerKWh: 11 is above the cap 10/,
    );
    expect(bad({ availability: { floorMinorPerMWh: 2, capMinorPerMWh: 1 } })).toThrow(
      /contracts\.flexibility\.availability\.floorMinorPerMWh: 2 is above the cap 1/,
    );
    expect(bad({ response: { floorMinorPerKWh: 1, capMinorPerKWh: 2 }, extra: 1 })).toThrow(
      /contracts\.flexibility\.extra: unknown key/,
    );
  });

  it('a policy without flexibility price bounds does not bound the prices', () => {
    expect(
      review(compliantFlex({ responseMinorPerKWh: 1000, availabilityMinor: 10_000, ...big })).outcome,
    ).toBe('approved');
  });

  it('storage power counts the seller’s other flexibility contracts over the window', () => {
    const v = makeValidator();
    const b = registeredWorld(v, false);
    const first = compliantFlex({ maxDischargeW: 6000, maxChargeW: 0, availabilityMinor: 150, ...big });
    b.contract(first);
    runValidator(b, v, T_REVIEW);
    const s = fold(b);
    expect(Object.values(s.contracts).map((r) => r.status)).toEqual(['approved']);
    const second = { ...first, nonce: 'c2Vjb25kLWZsZXhpYmlsaXR5' };
    const r = review(second, T_REVIEW, s);
    expect(r.reasons.map((x) => x.code)).toEqual(['capacity-exceeded']);
    expect(r.reasons[0]?.message).toMatch(/12000 W of discharge/);
    // Charge is the other direction: 6000 W of charge fits beside 6000 W of discharge.
    const charge = { ...second, maxDischargeW: 0, maxChargeW: 6000 };
    expect(review(charge, T_REVIEW, s).outcome).toBe('approved');
  });
});
