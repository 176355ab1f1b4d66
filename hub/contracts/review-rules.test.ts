import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import { foldLog } from './fold.js';
import { reviewContract } from './review-rules.js';
import { K, registeredWorld, SCENARIO_CONFIG, scenarioContract } from './scenario.js';

const state = () => foldLog(registeredWorld({ activate: false }).b.entries, SCENARIO_CONFIG);
const AT = EXAMPLE_T0 - 3_600_000;
const codes = (c: ReturnType<typeof scenarioContract>, at = AT) =>
  reviewContract(c, state(), at, 'EUR').map((r) => r.code);

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
