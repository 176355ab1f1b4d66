import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleFlexibilityContract, exampleKey } from '../../protocol/messages/examples.js';
import type { Contract } from '../../protocol/messages/index.js';
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
  {
    code: 'product-not-supported',
    contract: () => ({ ...exampleFlexibilityContract(), disputeWindowMs: DAY, deposits: big.deposits }),
  },
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
