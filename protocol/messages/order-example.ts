// Example orders for the test vectors, docs/markets.md and the tests. Same example keys as
// examples.ts: for examples and tests only.
import { EXAMPLE_KEYS, EXAMPLE_T0 } from './examples.js';
import type { EnergyOrder, FlexibilityOrder } from './order.js';

const Q = 900_000;

/** An offer: the example seller sells up to 2 kWh per interval, 10:00–11:00, at ≥ 18 minor/kWh. */
export function exampleOrder(): EnergyOrder {
  return {
    product: 'energy',
    participant: EXAMPLE_KEYS.seller.id,
    side: 'offer',
    region: 'north',
    currency: 'EUR',
    settlementPeriodMs: Q,
    window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q },
    deliveryPoints: [{ gw: EXAMPLE_KEYS.gatewayA.id, meter: 'grid-meter' }],
    expires: EXAMPLE_T0 + 3 * Q,
    nonce: 'b3JkZXItbm9uY2UtMDAwMQ',
    createdAt: EXAMPLE_T0 - 3_600_000,
    energy: 'electricity',
    quantityWh: 2_000,
    limitMinorPerKWh: 18,
  };
}

/** A flexibility offer: up to 3 kW of discharge per interval at ≥ 1 500 minor per MW·h. */
export function exampleFlexibilityOrder(): FlexibilityOrder {
  const o = exampleOrder();
  return {
    product: 'flexibility',
    participant: o.participant,
    side: 'offer',
    region: o.region,
    currency: o.currency,
    settlementPeriodMs: Q,
    window: o.window,
    deliveryPoints: [{ gw: EXAMPLE_KEYS.gatewayA.id, meter: 'battery-meter' }],
    expires: o.expires,
    nonce: 'ZmxleC1vcmRlci1ub25jZS0x',
    createdAt: o.createdAt,
    energy: 'electricity',
    direction: 'discharge',
    powerW: 3_000,
    limitMinorPerMWh: 1_500,
  };
}
