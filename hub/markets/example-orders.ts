// Signed example orders as the ledger holds them (verified payload, message hash, leaf index), for
// tests, the worked examples in docs/markets.md and demos. The keys are public example keys.

import { EXAMPLE_T0, type ExampleKey, exampleKey } from '../../protocol/messages/examples.js';
import { signMessage } from '../../protocol/messages/index.js';
import {
  type EnergyOrder,
  type FlexibilityOrder,
  ORDER_TYP,
  verifyOrder,
} from '../../protocol/messages/order.js';
import type { LedgerOrder } from './book.js';

export const Q = 900_000;
export const T0 = EXAMPLE_T0;

const keyCache = new Map<string, ExampleKey>();
export function participant(label: string): ExampleKey {
  let k = keyCache.get(label);
  if (k === undefined) {
    k = exampleKey(`market ${label}`, 'pt');
    keyCache.set(label, k);
  }
  return k;
}

const gwCache = new Map<string, ExampleKey>();
function gatewayOf(label: string): ExampleKey {
  let k = gwCache.get(label);
  if (k === undefined) {
    k = exampleKey(`market gateway ${label}`, 'gw');
    gwCache.set(label, k);
  }
  return k;
}

let nonceCounter = 0;
function nextNonce(): string {
  nonceCounter++;
  return `dGVzdC1ub25jZS0${String(nonceCounter).padStart(6, '0')}`;
}

export interface EnergyOrderSpec extends Partial<Omit<EnergyOrder, 'side' | 'participant'>> {
  who: string;
  side: 'offer' | 'bid';
  quantityWh: number;
  limitMinorPerKWh: number;
}

export function energyOrder(spec: EnergyOrderSpec): EnergyOrder {
  const { who, side, ...rest } = spec;
  return {
    product: 'energy',
    participant: participant(who).id,
    side,
    region: 'north',
    currency: 'EUR',
    settlementPeriodMs: Q,
    window: { start: T0, end: T0 + Q },
    deliveryPoints: [{ gw: gatewayOf(who).id, meter: 'grid-meter' }],
    expires: T0,
    nonce: nextNonce(),
    createdAt: T0 - 3_600_000,
    energy: 'electricity',
    ...rest,
  };
}

export interface FlexOrderSpec extends Partial<Omit<FlexibilityOrder, 'side' | 'participant'>> {
  who: string;
  side: 'offer' | 'bid';
  powerW: number;
  limitMinorPerMWh: number;
}

export function flexOrder(spec: FlexOrderSpec): FlexibilityOrder {
  const { who, side, ...rest } = spec;
  return {
    product: 'flexibility',
    participant: participant(who).id,
    side,
    region: 'north',
    currency: 'EUR',
    settlementPeriodMs: Q,
    window: { start: T0, end: T0 + Q },
    deliveryPoints: [{ gw: gatewayOf(who).id, meter: 'battery-meter' }],
    expires: T0,
    nonce: nextNonce(),
    createdAt: T0 - 3_600_000,
    energy: 'electricity',
    direction: 'discharge',
    ...rest,
  };
}

/** Signs each order with its participant's key, verifies it, and gives it the next leaf index. */
export function ledgerOrders(
  orders: readonly (EnergyOrder | FlexibilityOrder)[],
  firstIndex = 10,
): LedgerOrder[] {
  const keys = new Map<string, Uint8Array>();
  return orders.map((order, i) => {
    const key = [...keyCache.values()].find((k) => k.id === order.participant);
    if (key === undefined) throw new Error(`no test key for ${order.participant}`);
    keys.set(key.id, key.publicKey);
    const compact = signMessage(ORDER_TYP, key.id, order, key.secretKey);
    const v = verifyOrder(compact, (kid) => keys.get(kid));
    if (!v.ok) throw new Error(`test order ${i} does not verify: ${v.detail}`);
    return { order: v.order, hash: v.hash, index: firstIndex + i };
  });
}
