import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleFlexibilityContract } from '../../protocol/messages/examples.js';
import type { Contract, FlexibilityContract } from '../../protocol/messages/index.js';
import { foldLog } from './fold.js';
import { reviewContract } from './review-rules.js';
import { K, registeredWorld, SCENARIO_CONFIG, scenarioContract } from './scenario.js';

const state = () => foldLog(registeredWorld({ activate: false }).b.entries, SCENARIO_CONFIG);
const AT = EXAMPLE_T0 - 3_600_000;
const codes = (c: Contract, at = AT) => reviewContract(c, state(), at, 'EUR').map((r) => r.code);

describe('simple contract review rules', () => {
  it('passes a compliant contract', () => {
    // penalty for a full shortfall: ceil(4000 × 20 / 1000) = 80 ≤ 80; payment ceil(4000 × 29 / 1000) = 116 ≤ 120.
    expect(codes(scenarioContract({ deposits: { seller: 80, buyer: 120 } }))).toEqual([]);
  });

  it('refuses each violation with its code', () => {
    expect(codes(scenarioContract())).toEqual(['deposit-below-penalty']); // seller deposit 60 < 80
    expect(codes(scenarioContract({ deposits: { seller: 80, buyer: 115 } }))).toEqual([
      'deposit-below-payment',
    ]);
    const ok = { deposits: { seller: 80, buyer: 120 } };
    expect(codes(scenarioContract(ok), EXAMPLE_T0)).toEqual(['window-not-future']);
    expect(codes(scenarioContract({ ...ok, currency: 'USD' }))).toEqual(['currency-mismatch']);
    expect(codes(scenarioContract({ ...ok, energy: 'heat' }))).toEqual(['energy-not-allowed']);
    expect(codes(scenarioContract({ ...ok, buyer: K.seller.id }))).toEqual([
      'self-dealing',
      'delivery-point-not-party',
    ]);
    expect(codes(scenarioContract({ ...ok, buyer: K.operator.id.replace('op-', 'pt-') }))).toEqual([
      'party-not-registered',
    ]);
    expect(
      codes(
        scenarioContract({
          ...ok,
          deliveryPoints: {
            seller: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
            buyer: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
          },
        }),
      ),
    ).toEqual(['delivery-point-not-party']);
  });
});

// 3000 W over one hour: the most energy called for is 3000 Wh; penalty ceil(3000 × 60 / 1000) =
// 180, availability 150 + response ceil(3000 × 30 / 1000) = 90. The seller registered 10 000 W.
const flex = (o: Partial<FlexibilityContract> = {}): FlexibilityContract => ({
  ...exampleFlexibilityContract(),
  deposits: { seller: 180, buyer: 240 },
  ...o,
});

describe('simple contract review rules: flexibility', () => {
  it('passes a compliant flexibility contract', () => {
    expect(codes(flex())).toEqual([]);
  });

  it('refuses each violation with its code', () => {
    expect(codes(flex({ maxDischargeW: 10_001, deposits: { seller: 10_000, buyer: 10_000 } }))).toEqual([
      'capacity-exceeded',
    ]);
    expect(codes(flex({ maxChargeW: 10_001, deposits: { seller: 10_000, buyer: 10_000 } }))).toEqual([
      'capacity-exceeded',
    ]);
    expect(codes(flex({ deposits: { seller: 179, buyer: 240 } }))).toEqual(['deposit-below-penalty']);
    expect(codes(flex({ deposits: { seller: 180, buyer: 239 } }))).toEqual(['deposit-below-payment']);
    expect(codes(flex(), EXAMPLE_T0)).toEqual(['window-not-future']);
    expect(codes(flex({ window: { start: EXAMPLE_T0 + 1, end: EXAMPLE_T0 + 3_600_001 } }))).toEqual([
      'window-not-aligned',
    ]);
    expect(codes(flex({ buyer: K.seller.id }))).toEqual(['self-dealing', 'delivery-point-not-party']);
    expect(codes(flex({ buyer: K.operator.id.replace('op-', 'pt-') }))).toEqual(['party-not-registered']);
  });
});
