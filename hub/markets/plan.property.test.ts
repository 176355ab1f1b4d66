// Properties of the contracts an auction makes, over random books of orders: every contract
// parses; no order (and so no participant) is contracted beyond its quantity; the contract price
// is within both orders' limits; Wh sold = Wh bought; and the same orders in any array order give
// byte-identical entries. Orders are unsigned here (planAuction trusts the ledger's verification).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64url, canonicalJson, sha256 } from '../../protocol/index.js';
import { parseContract } from '../../protocol/messages/index.js';
import type { BookKey, LedgerOrder } from './book.js';
import { energyOrder, Q, T0 } from './example-orders.js';
import { planAuction } from './plan.js';
import { marketRules } from './rules.js';

const rules = marketRules({ currency: 'EUR' });
const ELEC: BookKey = { region: 'north', product: 'energy', energy: 'electricity' };
const IV = { start: T0, end: T0 + Q };
const WHO = ['a', 'b', 'c', 'd', 'e'];

const ordersArb = fc
  .array(
    fc.record({
      who: fc.constantFrom(...WHO),
      side: fc.constantFrom<'offer' | 'bid'>('offer', 'bid'),
      quantityWh: fc.integer({ min: 1, max: 5_000 }),
      limitMinorPerKWh: fc.integer({ min: 0, max: 60 }),
    }),
    { maxLength: 16 },
  )
  .map((specs) =>
    specs.map(
      (s, i): LedgerOrder => ({
        order: energyOrder(s),
        hash: b64url.encode(sha256(`order ${i}`)),
        index: i,
      }),
    ),
  );

describe('planAuction properties', () => {
  it('contracts stay within every order quantity and limit, balance, and do not depend on array order', () => {
    fc.assert(
      fc.property(ordersArb, fc.context(), (orders, ctx) => {
        const plan = planAuction(orders, ELEC, IV, 1_000, rules, T0 - 300_000);
        const byHash = new Map(orders.map((lo) => [lo.hash, lo]));
        const used = new Map<string, number>();
        const soldBy = new Map<string, number>();
        const boughtBy = new Map<string, number>();
        for (const m of plan.matches) {
          const c = m.contract;
          expect(parseContract(c).ok).toBe(true);
          if (c.product !== 'energy') throw new Error('energy book made a flexibility contract');
          const offer = byHash.get(m.offer)!.order;
          const bid = byHash.get(m.bid)!.order;
          if (offer.product !== 'energy' || bid.product !== 'energy') throw new Error('not energy orders');
          expect(c.priceMinorPerKWh).toBeGreaterThanOrEqual(offer.limitMinorPerKWh);
          expect(c.priceMinorPerKWh).toBeLessThanOrEqual(bid.limitMinorPerKWh);
          expect([c.seller, c.buyer]).toEqual([offer.participant, bid.participant]);
          expect(c.seller).not.toBe(c.buyer);
          used.set(m.offer, (used.get(m.offer) ?? 0) + c.quantity.wh);
          used.set(m.bid, (used.get(m.bid) ?? 0) + c.quantity.wh);
          soldBy.set(c.seller, (soldBy.get(c.seller) ?? 0) + c.quantity.wh);
          boughtBy.set(c.buyer, (boughtBy.get(c.buyer) ?? 0) + c.quantity.wh);
        }
        for (const [hash, wh] of used) {
          const o = byHash.get(hash)!.order;
          expect(wh).toBeLessThanOrEqual(o.product === 'energy' ? o.quantityWh : 0);
        }
        for (const who of new Set(orders.map((lo) => lo.order.participant))) {
          const offered = orders
            .filter((lo) => lo.order.participant === who && lo.order.side === 'offer')
            .reduce((a, lo) => a + (lo.order.product === 'energy' ? lo.order.quantityWh : 0), 0);
          const bidFor = orders
            .filter((lo) => lo.order.participant === who && lo.order.side === 'bid')
            .reduce((a, lo) => a + (lo.order.product === 'energy' ? lo.order.quantityWh : 0), 0);
          expect(soldBy.get(who) ?? 0).toBeLessThanOrEqual(offered);
          expect(boughtBy.get(who) ?? 0).toBeLessThanOrEqual(bidFor);
        }
        const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
        expect(total(soldBy)).toBe(total(boughtBy));
        const selfVolume = plan.clearing.matches.filter((m) => m.self).reduce((a, m) => a + m.quantity, 0);
        expect(total(soldBy) + selfVolume).toBe(plan.result.volume);
        const reversed = planAuction([...orders].reverse(), ELEC, IV, 1_000, rules, T0 - 300_000);
        ctx.log(`${orders.length} orders, ${plan.matches.length} contracts`);
        expect(canonicalJson(reversed.result)).toBe(canonicalJson(plan.result));
        expect(canonicalJson(reversed.matches)).toBe(canonicalJson(plan.matches));
      }),
      { numRuns: 150 },
    );
  });
});
