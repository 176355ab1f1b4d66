// The order message: its examples parse, each cross-field rule refuses with the field named, and
// verifyOrder checks typ, schema and that the participant signed it.
import { describe, expect, it } from 'vitest';
import { messageHashB64 } from '../chain.js';
import { signJws } from '../jws.js';
import { EXAMPLE_KEYS } from './examples.js';
import { signMessage } from './index.js';
import {
  MAX_ORDER_WINDOW_MS,
  ORDER_TYP,
  orderLimit,
  orderQuantity,
  parseOrder,
  verifyOrder,
} from './order.js';
import { exampleFlexibilityOrder, exampleOrder } from './order-example.js';

const K = EXAMPLE_KEYS;
const keys = (kid: string) => Object.values(K).find((k) => k.id === kid)?.publicKey;
const paths = (p: unknown) => {
  const r = parseOrder(p);
  return r.ok ? [] : r.issues.map((i) => i.path);
};

describe('order payload', () => {
  it('accepts the energy and flexibility examples and reads quantity and limit', () => {
    expect(parseOrder(exampleOrder()).ok).toBe(true);
    expect(parseOrder(exampleFlexibilityOrder()).ok).toBe(true);
    expect([orderQuantity(exampleOrder()), orderLimit(exampleOrder())]).toEqual([2000, 18]);
    expect([orderQuantity(exampleFlexibilityOrder()), orderLimit(exampleFlexibilityOrder())]).toEqual([
      3000, 1500,
    ]);
  });

  it('accepts heat and gas; refuses an unknown energy, flexibility on heat, fractions and zero quantity', () => {
    expect(parseOrder({ ...exampleOrder(), energy: 'heat' }).ok).toBe(true);
    expect(parseOrder({ ...exampleOrder(), energy: 'gas' }).ok).toBe(true);
    expect(paths({ ...exampleOrder(), energy: 'steam' })).toEqual(['energy']);
    expect(paths({ ...exampleFlexibilityOrder(), energy: 'heat' })).toEqual(['energy']);
    expect(paths({ ...exampleOrder(), limitMinorPerKWh: 18.5 })).toEqual(['limitMinorPerKWh']);
    expect(paths({ ...exampleOrder(), quantityWh: 0 })).toEqual(['quantityWh']);
    expect(paths({ ...exampleOrder(), limitMinorPerKWh: -1 })).toEqual(['limitMinorPerKWh']);
  });

  it('refuses fields of the other product, unknown fields and a bad side', () => {
    expect(paths({ ...exampleOrder(), powerW: 5 })).toEqual(['']);
    expect(paths({ ...exampleOrder(), side: 'sell' })).toEqual(['side']);
    expect(paths({ ...exampleFlexibilityOrder(), direction: 'up' })).toEqual(['direction']);
  });

  it('refuses an unaligned or too long window, a bad period, bad expiry and a repeated delivery point', () => {
    const o = exampleOrder();
    expect(paths({ ...o, window: { start: o.window.start + 1, end: o.window.end } })).toEqual([
      'window.start',
    ]);
    expect(paths({ ...o, settlementPeriodMs: 600_000 })).toEqual(['settlementPeriodMs']);
    const long = { start: o.window.start, end: o.window.start + MAX_ORDER_WINDOW_MS + 900_000 };
    expect(paths({ ...o, window: long, expires: o.window.start })).toEqual(['window.end']);
    expect(paths({ ...o, expires: o.createdAt })).toEqual(['expires']);
    expect(paths({ ...o, expires: o.window.end + 1 })).toEqual(['expires']);
    const dp = o.deliveryPoints[0]!;
    expect(paths({ ...o, deliveryPoints: [dp, dp] })).toEqual(['deliveryPoints[1]']);
    expect(paths({ ...o, deliveryPoints: [] })).toEqual(['deliveryPoints']);
  });
});

describe('verifyOrder', () => {
  it('accepts an order signed by its participant; the hash is the message hash', () => {
    const compact = signMessage(ORDER_TYP, K.seller.id, exampleOrder(), K.seller.secretKey);
    const v = verifyOrder(compact, keys);
    expect(v).toMatchObject({ ok: true, kid: K.seller.id, hash: messageHashB64(compact) });
  });

  it('refuses an order signed by another participant, a bad schema, another typ and a forged signature', () => {
    const other = signJws(ORDER_TYP, K.buyer.id, exampleOrder(), K.buyer.secretKey);
    expect(verifyOrder(other, keys)).toMatchObject({ ok: false, reason: 'signer-not-participant' });
    const bad = signJws(ORDER_TYP, K.seller.id, { ...exampleOrder(), quantityWh: 1.5 }, K.seller.secretKey);
    expect(verifyOrder(bad, keys)).toMatchObject({ ok: false, reason: 'schema' });
    const typ = signJws('wattproof.contract.v1', K.seller.id, exampleOrder(), K.seller.secretKey);
    expect(verifyOrder(typ, keys)).toMatchObject({ ok: false, reason: 'typ-mismatch' });
    const forged = signJws(ORDER_TYP, K.seller.id, exampleOrder(), K.buyer.secretKey);
    expect(verifyOrder(forged, keys)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
});
