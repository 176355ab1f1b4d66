// planAuction over real signed orders: the book (who is in, who is not and why), the clearing,
// the contracts the matches make (every field from the orders, the match and the rules), and
// hub entries that pass their schemas and sign.
import { describe, expect, it } from 'vitest';
import { signJws } from '../../protocol/index.js';
import { EXAMPLE_KEYS } from '../../protocol/messages/examples.js';
import { contractIdOf, contractPayloadSegment, parseContract } from '../../protocol/messages/index.js';
import { type BookKey, ineligibility } from './book.js';
import { energyOrder, flexOrder, ledgerOrders, participant, Q, T0 } from './example-orders.js';
import { AUCTION_RESULT_TYP, matchesHashOf, parseAuctionResult, parseMarketMatch } from './messages.js';
import { planAuction, planContinuous } from './plan.js';
import { marketRules } from './rules.js';

const rules = marketRules({ currency: 'EUR' });
const ELEC: BookKey = { region: 'north', product: 'energy', energy: 'electricity' };
const IV = { start: T0, end: T0 + Q };
const GATE = T0 - 300_000;

describe('planAuction', () => {
  it('clears the hand-computed book and makes one contract per pair, with deposits by rule', () => {
    const orders = ledgerOrders([
      energyOrder({ who: 's1', side: 'offer', quantityWh: 100, limitMinorPerKWh: 10 }),
      energyOrder({ who: 's2', side: 'offer', quantityWh: 200, limitMinorPerKWh: 15 }),
      energyOrder({ who: 's3', side: 'offer', quantityWh: 300, limitMinorPerKWh: 20 }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 150, limitMinorPerKWh: 35 }),
      energyOrder({ who: 'b2', side: 'bid', quantityWh: 200, limitMinorPerKWh: 25 }),
      energyOrder({ who: 'b3', side: 'bid', quantityWh: 250, limitMinorPerKWh: 18 }),
    ]);
    const plan = planAuction(orders, ELEC, IV, 1_000, rules, GATE + 10);
    // As in auction.test.ts: 350 Wh at 20 (O3 partly filled); pairs s1→b1 100, s2→b1 50,
    // s2→b2 150, s3→b2 50.
    expect(plan.result).toMatchObject({ priceMinor: 20, volume: 350, orders: 6, matches: 4, gateAt: GATE });
    expect(plan.matches.map((m) => [m.contract.seller, m.contract.buyer, m.quantity])).toEqual([
      [participant('s1').id, participant('b1').id, 100],
      [participant('s2').id, participant('b1').id, 50],
      [participant('s2').id, participant('b2').id, 150],
      [participant('s3').id, participant('b2').id, 50],
    ]);
    const m = plan.matches[2]!;
    expect(m.contract).toMatchObject({
      product: 'energy',
      energy: 'electricity',
      window: IV,
      region: 'north',
      currency: 'EUR',
      createdAt: GATE,
      quantity: { wh: 150, per: 'window' },
      priceMinorPerKWh: 20,
      // penalty = ceil(20 × 100 / 100) = 20; seller deposit = ceil(150 × 20 / 1000) = 3;
      // buyer deposit = ceil(150 × 20 / 1000) = 3
      penaltyMinorPerKWh: 20,
      deposits: { seller: 3, buyer: 3 },
      disputeWindowMs: 7 * 86_400_000,
    });
    expect(m.contract.deliveryPoints.seller).toEqual(orders[1]!.order.deliveryPoints);
    expect(m.contract.deliveryPoints.buyer).toEqual(orders[4]!.order.deliveryPoints);
    expect([m.offer, m.bid]).toEqual([orders[1]!.hash, orders[4]!.hash]);
    for (const mm of plan.matches) {
      expect(parseContract(mm.contract).ok).toBe(true);
      expect(mm.contractId).toBe(contractIdOf(contractPayloadSegment(mm.contract)));
      expect(parseMarketMatch(mm).ok).toBe(true);
    }
    expect(new Set(plan.matches.map((x) => x.contractId)).size).toBe(4);
    expect(parseAuctionResult(plan.result).ok).toBe(true);
    expect(plan.result.matchesHash).toBe(matchesHashOf(plan.clearing.matches));
    // the hub can sign it: JSON with integers only
    expect(() =>
      signJws(AUCTION_RESULT_TYP, EXAMPLE_KEYS.hub.id, plan.result, EXAMPLE_KEYS.hub.secretKey),
    ).not.toThrow();
  });

  it('is deterministic: the same ledger orders in another array order plan the same entries', () => {
    const orders = ledgerOrders([
      energyOrder({ who: 's1', side: 'offer', quantityWh: 400, limitMinorPerKWh: 12 }),
      energyOrder({ who: 's2', side: 'offer', quantityWh: 400, limitMinorPerKWh: 12 }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 500, limitMinorPerKWh: 30 }),
    ]);
    const a = planAuction(orders, ELEC, IV, 100, rules, GATE);
    const b = planAuction([...orders].reverse(), ELEC, IV, 100, rules, GATE);
    expect(b.result).toEqual(a.result);
    expect(b.matches).toEqual(a.matches);
    // 800 offered at 12, 500 bid at 30: s1 (earlier index) sells 400, s2 100 and keeps 300 at 12.
    // low = max(12, no bid left) = 12; high = min(b1 30, first unfilled offer s2 12) = 12 → 12
    // (supply is long: the price falls to the sellers' limit).
    expect(a.result).toMatchObject({ priceMinor: 12, volume: 500 });
    expect(a.matches.map((m) => m.quantity)).toEqual([400, 100]);
  });

  it('leaves out orders of other books, currencies, periods and windows, late, expired and beyond lastIndex', () => {
    const orders = ledgerOrders([
      energyOrder({ who: 'in', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1 }),
      energyOrder({ who: 'heat', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1, energy: 'heat' }),
      energyOrder({ who: 'south', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1, region: 'south' }),
      energyOrder({ who: 'chf', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1, currency: 'CHF' }),
      energyOrder({
        who: 'hour',
        side: 'offer',
        quantityWh: 100,
        limitMinorPerKWh: 1,
        settlementPeriodMs: 3_600_000,
        window: { start: T0, end: T0 + 3_600_000 },
      }),
      energyOrder({
        who: 'later',
        side: 'offer',
        quantityWh: 100,
        limitMinorPerKWh: 1,
        window: { start: T0 + Q, end: T0 + 2 * Q },
        expires: T0 + Q,
      }),
      energyOrder({ who: 'late', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1, createdAt: GATE + 1 }),
      energyOrder({ who: 'expired', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1, expires: GATE }),
      energyOrder({ who: 'beyond', side: 'offer', quantityWh: 100, limitMinorPerKWh: 1 }),
    ]);
    const lastIndex = orders[7]!.index;
    expect(orders.map((lo) => ineligibility(lo, ELEC, IV, GATE, lastIndex, rules))).toEqual([
      null,
      'other-book',
      'other-book',
      'other-currency',
      'other-period',
      'outside-window',
      'created-after-gate',
      'expired',
      'after-last-index',
    ]);
    const plan = planAuction(orders, ELEC, IV, lastIndex, rules, GATE);
    expect(plan.book.map((lo) => lo.order.participant)).toEqual([participant('in').id]);
    expect(plan.result).toMatchObject({ orders: 1, priceMinor: null, range: null, volume: 0, matches: 0 });
    expect(parseAuctionResult(plan.result).ok).toBe(true);
  });

  it('a window order stands in each of its intervals with its full quantity', () => {
    const orders = ledgerOrders([
      energyOrder({
        who: 'pv',
        side: 'offer',
        quantityWh: 300,
        limitMinorPerKWh: 10,
        window: { start: T0, end: T0 + 2 * Q },
        expires: T0 + Q,
      }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 200, limitMinorPerKWh: 20 }),
      energyOrder({
        who: 'b2',
        side: 'bid',
        quantityWh: 500,
        limitMinorPerKWh: 20,
        window: { start: T0 + Q, end: T0 + 2 * Q },
        expires: T0 + Q,
      }),
    ]);
    const first = planAuction(orders, ELEC, IV, 100, rules, GATE);
    const second = planAuction(orders, ELEC, { start: T0 + Q, end: T0 + 2 * Q }, 100, rules, GATE + Q);
    expect([first.result.volume, second.result.volume]).toEqual([200, 300]);
    expect(first.matches[0]!.contract.nonce).not.toBe(second.matches[0]!.contract.nonce);
  });

  it('a self-match is counted in the result but makes no contract', () => {
    const orders = ledgerOrders([
      energyOrder({ who: 'both', side: 'offer', quantityWh: 100, limitMinorPerKWh: 10 }),
      energyOrder({ who: 'both', side: 'bid', quantityWh: 100, limitMinorPerKWh: 20 }),
    ]);
    const plan = planAuction(orders, ELEC, IV, 100, rules, GATE);
    expect(plan.result).toMatchObject({ volume: 100, matches: 1 });
    expect(plan.matches).toEqual([]);
  });

  it('flexibility: availability, deposits and power limits by hand', () => {
    const key: BookKey = { region: 'north', product: 'flexibility', direction: 'discharge' };
    const orders = ledgerOrders([
      flexOrder({ who: 'battery', side: 'offer', powerW: 3_000, limitMinorPerMWh: 1_200 }),
      flexOrder({ who: 'dso', side: 'bid', powerW: 5_000, limitMinorPerMWh: 1_800 }),
      flexOrder({ who: 'charger', side: 'offer', powerW: 3_000, limitMinorPerMWh: 1, direction: 'charge' }),
    ]);
    const plan = planAuction(orders, key, IV, 100, rules, GATE);
    // Only the discharge offer is in the book. The bid is partly filled at its limit:
    // low = max(1200, first unfilled bid dso 1800) = 1800, high = min(1800, none) = 1800.
    expect(plan.result).toMatchObject({ priceMinor: 1_800, volume: 3_000, orders: 2 });
    // availability = floor(3000 W × 1800 minor/MW·h × 900 000 ms / 3.6e12) = floor(1.35) = 1
    // most energy = ceil(3000 × 900 000 / 3 600 000) = 750 Wh
    // seller deposit = ceil(750 × 60 / 1000) = 45; buyer = 1 + ceil(750 × 30 / 1000) = 1 + 23 = 24
    expect(plan.matches[0]!.contract).toMatchObject({
      product: 'flexibility',
      maxDischargeW: 3_000,
      maxChargeW: 0,
      availabilityMinor: 1,
      responseMinorPerKWh: 30,
      penaltyMinorPerKWh: 60,
      deposits: { seller: 45, buyer: 24 },
    });
    expect(parseContract(plan.matches[0]!.contract).ok).toBe(true);
  });

  it('refuses to clear before the gate closes', () => {
    expect(() => planAuction([], ELEC, IV, 0, rules, GATE - 1)).toThrow(/gate/);
  });
});

describe('planContinuous', () => {
  it('matches in ledger order at the resting price; each match names the order that caused it', () => {
    const orders = ledgerOrders([
      energyOrder({
        who: 's1',
        side: 'offer',
        quantityWh: 300,
        limitMinorPerKWh: 14,
        createdAt: GATE - 9_000,
      }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 200, limitMinorPerKWh: 22, createdAt: GATE - 8_000 }),
      energyOrder({ who: 'b2', side: 'bid', quantityWh: 200, limitMinorPerKWh: 16, createdAt: GATE - 7_000 }),
      energyOrder({ who: 'b3', side: 'bid', quantityWh: 50, limitMinorPerKWh: 30, createdAt: GATE }),
    ]);
    const plan = planContinuous(orders, ELEC, IV, 100, marketRules({ currency: 'EUR', mode: 'continuous' }));
    // b1 takes 200 of s1 at 14 (s1 rests); b2 takes the last 100 at 14; b3 arrives at the gate: refused.
    expect(plan.matches.map((m) => [m.mode, m.quantity, m.priceMinor, m.contract.createdAt])).toEqual([
      ['continuous', 200, 14, GATE - 8_000],
      ['continuous', 100, 14, GATE - 7_000],
    ]);
    expect(plan.causedBy).toEqual([orders[1]!.index, orders[2]!.index]);
    expect(plan.outcome.refused).toEqual([{ id: orders[3]!.hash, reason: 'gate-closed' }]);
    for (const m of plan.matches) expect(parseMarketMatch(m).ok).toBe(true);
  });
});
