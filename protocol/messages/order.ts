// A participant's signed order: an offer (to sell) or a bid (to buy) of energy or flexibility in a
// region, for each settlement interval of a window, up to a limit price. The hub clears orders
// per region, product and interval (docs/markets.md); each match becomes a contract whose
// authorisation is the two orders' message hashes. Signed by the participant (kid = participant).
import { z } from 'zod';
import { messageHashB64 } from '../chain.js';
import { type JwsRejectReason, verifyJws } from '../jws.js';
import { SETTLEMENT_PERIODS_MS } from '../units.js';
import {
  alignedWindowRules,
  energyType,
  formatIssues,
  interval,
  name,
  nonce,
  nonNegativeInt,
  type ParseIssue,
  parseWith,
  participantId,
  positiveInt,
  type RuleIssue,
  utcMs,
  withRules,
} from './common.js';
import { deliveryPoint } from './contract.js';
import { currency } from './price.js';

export const ORDER_TYP = 'wattproof.order.v1';

/** offer = the participant sells (supply); bid = the participant buys (demand). */
export const ORDER_SIDES = ['offer', 'bid'] as const;
export type OrderSide = (typeof ORDER_SIDES)[number];

/** Flexibility direction as the grid sees the battery: discharge (power out) or charge (power in). */
export const FLEX_DIRECTIONS = ['discharge', 'charge'] as const;
export type FlexDirection = (typeof FLEX_DIRECTIONS)[number];

/** Longest window one order may stand for: 7 days (books stay bounded; renew for longer). */
export const MAX_ORDER_WINDOW_MS = 7 * 86_400_000;

const common = {
  /** The participant placing the order; MUST be the signer (kid). */
  participant: participantId,
  side: z.enum(ORDER_SIDES),
  /** The grid region whose market clears the order. */
  region: name,
  currency,
  /** The settlement period of the market, ms; the window is divided into it. */
  settlementPeriodMs: z
    .int()
    .refine(
      (n) => SETTLEMENT_PERIODS_MS.includes(n),
      `must be one of ${SETTLEMENT_PERIODS_MS.join(', ')} ms`,
    ),
  /**
   * [start, end) aligned to settlementPeriodMs. The order stands, with its full quantity and
   * limit, in the clearing of each settlement interval of the window, independently.
   */
  window: interval,
  /** The meters whose proofs settle the contracts this order leads to (the participant's side). */
  deliveryPoints: z.array(deliveryPoint).min(1, 'must name at least one delivery point').max(100),
  /** The order takes part in no clearing whose gate closes at or after this instant, UTC ms. */
  expires: utcMs,
  nonce,
  createdAt: utcMs,
};

const energyOrder = z.strictObject({
  product: z.literal('energy'),
  ...common,
  energy: energyType,
  /** Most energy to trade in each settlement interval of the window, Wh. */
  quantityWh: positiveInt,
  /** Limit price, minor units per kWh: the least an offer accepts, the most a bid pays. */
  limitMinorPerKWh: nonNegativeInt,
});

const flexibilityOrder = z.strictObject({
  product: z.literal('flexibility'),
  ...common,
  /** Flexibility is traded on electricity only. */
  energy: z.literal('electricity'),
  direction: z.enum(FLEX_DIRECTIONS),
  /** Most power that may be called for in each settlement interval of the window, W. */
  powerW: positiveInt,
  /**
   * Limit availability price, minor units per MW per hour of availability: the least an offer
   * accepts, the most a bid pays.
   */
  limitMinorPerMWh: nonNegativeInt,
});

const structure = z.discriminatedUnion('product', [energyOrder, flexibilityOrder]);

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out = alignedWindowRules(v.window, v.settlementPeriodMs, ['window']);
  if (out.length === 0 && v.window.end - v.window.start > MAX_ORDER_WINDOW_MS)
    out.push({
      path: ['window', 'end'],
      message: `must be at most ${MAX_ORDER_WINDOW_MS} ms (7 days) after start; place a new order for later`,
    });
  if (v.expires <= v.createdAt) out.push({ path: ['expires'], message: 'must be after createdAt' });
  if (v.expires > v.window.end)
    out.push({ path: ['expires'], message: 'must not be after window.end (nothing is left to trade then)' });
  const seen = new Set<string>();
  v.deliveryPoints.forEach((p, i) => {
    const key = `${p.gw}/${p.meter}`;
    if (seen.has(key)) out.push({ path: ['deliveryPoints', i], message: `${key} is named twice` });
    seen.add(key);
  });
  return out;
}

export const orderSchema = withRules(structure, rules);
export type Order = z.output<typeof orderSchema>;
export type EnergyOrder = Extract<Order, { product: 'energy' }>;
export type FlexibilityOrder = Extract<Order, { product: 'flexibility' }>;

export function parseOrder(payload: unknown) {
  return parseWith(orderSchema, payload);
}

/** The order's quantity (Wh for energy, W for flexibility) and limit (per kWh, per MW·h). */
export function orderQuantity(o: Order): number {
  return o.product === 'energy' ? o.quantityWh : o.powerW;
}

export function orderLimit(o: Order): number {
  return o.product === 'energy' ? o.limitMinorPerKWh : o.limitMinorPerMWh;
}

export type OrderRejectReason = JwsRejectReason | 'schema' | 'signer-not-participant';

export type OrderCheck =
  | { ok: true; order: Order; kid: string; hash: string }
  | { ok: false; reason: OrderRejectReason; detail: string; issues?: ParseIssue[] };

/**
 * Verifies a compact JWS as an order: the JWS rules with typ wattproof.order.v1, the payload's
 * schema, and the signer being the order's participant. `hash` is the order's id everywhere
 * (books, matches, contracts): base64url SHA-256 of the compact JWS.
 */
export function verifyOrder(
  compact: unknown,
  publicKeyFor: (kid: string) => Uint8Array | undefined,
): OrderCheck {
  const v = verifyJws(compact, { typ: ORDER_TYP, publicKeyFor });
  if (!v.ok) return v;
  const parsed = parseOrder(v.payload);
  if (!parsed.ok)
    return { ok: false, reason: 'schema', detail: formatIssues(parsed.issues), issues: parsed.issues };
  if (parsed.value.participant !== v.header.kid)
    return {
      ok: false,
      reason: 'signer-not-participant',
      detail: `signed by ${v.header.kid}; an order is signed by its participant (${parsed.value.participant})`,
    };
  return { ok: true, order: parsed.value, kid: v.header.kid, hash: messageHashB64(v.compact) };
}
