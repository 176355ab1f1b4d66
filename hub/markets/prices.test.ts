// Price statistics by hand: an auction interval, a continuous interval, bilateral contracts
// (per interval and per window, with the statuses and kinds that do not count), LMPs rounded.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_KEYS, exampleEnergyContract } from '../../protocol/messages/examples.js';
import { type EnergyContract, parsePricePublication } from '../../protocol/messages/index.js';
import type { BookKey } from './book.js';
import { energyOrder, ledgerOrders, Q, T0 } from './example-orders.js';
import { planAuction, planContinuous } from './plan.js';
import { contractVolumes, intervalPrices, lmpMinorPerMWh, pricePublication } from './prices.js';
import { marketRules } from './rules.js';

const ELEC: BookKey = { region: 'north', product: 'energy', energy: 'electricity' };
const I0 = { start: T0, end: T0 + Q };
const I1 = { start: T0 + Q, end: T0 + 2 * Q };
const I2 = { start: T0 + 2 * Q, end: T0 + 3 * Q };

function bilateral(over: Partial<EnergyContract>): EnergyContract {
  return { ...exampleEnergyContract(), ...over };
}

describe('contractVolumes', () => {
  it('per interval: the quantity in each; per window: spread evenly, remainder to the earliest', () => {
    const c = bilateral({ window: { start: T0, end: T0 + 3 * Q }, quantity: { wh: 1001, per: 'window' } });
    expect(contractVolumes(c).map((v) => v.wh)).toEqual([334, 334, 333]);
    const d = bilateral({ window: { start: T0, end: T0 + 2 * Q }, quantity: { wh: 400, per: 'interval' } });
    expect(contractVolumes(d).map((v) => v.wh)).toEqual([400, 400]);
  });
});

describe('intervalPrices', () => {
  it('clearing, volume, bilateral VWAP and LMPs by hand', () => {
    const rules = marketRules({ currency: 'EUR' });
    // I0, auction: the hand book of auction.test.ts → 350 Wh at 20.
    const auctionOrders = ledgerOrders([
      energyOrder({ who: 's1', side: 'offer', quantityWh: 100, limitMinorPerKWh: 10 }),
      energyOrder({ who: 's2', side: 'offer', quantityWh: 200, limitMinorPerKWh: 15 }),
      energyOrder({ who: 's3', side: 'offer', quantityWh: 300, limitMinorPerKWh: 20 }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 150, limitMinorPerKWh: 35 }),
      energyOrder({ who: 'b2', side: 'bid', quantityWh: 200, limitMinorPerKWh: 25 }),
    ]);
    const auction = planAuction(auctionOrders, ELEC, I0, 100, rules, I0.start - 300_000);
    // I1, continuous: s1 offers 200 @ 14; b1 bids 300 @ 20 → 200 @ 14 (resting price), b1 rests
    // 100 @ 20; s2 offers 50 @ 15 → 50 @ 20 (b1's price). VWAP (200·14 + 50·20) / 250 = 15.2 → 15.
    const w = { window: I1, expires: I1.start - 300_000 };
    const gate = I1.start - 300_000;
    const cont = planContinuous(
      ledgerOrders([
        energyOrder({
          who: 's1',
          side: 'offer',
          quantityWh: 200,
          limitMinorPerKWh: 14,
          ...w,
          createdAt: gate - 30,
        }),
        energyOrder({
          who: 'b1',
          side: 'bid',
          quantityWh: 300,
          limitMinorPerKWh: 20,
          ...w,
          createdAt: gate - 20,
        }),
        energyOrder({
          who: 's2',
          side: 'offer',
          quantityWh: 50,
          limitMinorPerKWh: 15,
          ...w,
          createdAt: gate - 10,
        }),
      ]),
      ELEC,
      I1,
      100,
      rules,
    );
    expect(cont.matches.map((m) => [m.quantity, m.priceMinor])).toEqual([
      [200, 14],
      [50, 20],
    ]);
    const contracts = [
      // 400 Wh @ 21 in I0 and I1
      {
        id: 'c1',
        status: 'active',
        contract: bilateral({ window: { start: T0, end: T0 + 2 * Q }, priceMinorPerKWh: 21 }),
      },
      // 1001 Wh over I0..I2 @ 30: 334, 334, 333
      {
        id: 'c2',
        status: 'settled',
        contract: bilateral({
          window: { start: T0, end: T0 + 3 * Q },
          quantity: { wh: 1001, per: 'window' },
          priceMinorPerKWh: 30,
        }),
      },
      // not counted: refused, another region, another energy, a market-made contract, flexibility
      { id: 'c3', status: 'refused', contract: bilateral({ priceMinorPerKWh: 999 }) },
      { id: 'c4', status: 'active', contract: bilateral({ region: 'south', priceMinorPerKWh: 999 }) },
      { id: 'c5', status: 'active', contract: bilateral({ energy: 'heat', priceMinorPerKWh: 999 }) },
      { id: 'c6', status: 'active', contract: bilateral({ priceMinorPerKWh: 999 }) },
      { id: 'c7', status: 'active', contract: { ...cont.matches[0]!.contract } },
    ];
    const prices = intervalPrices({
      region: 'north',
      energy: 'electricity',
      intervals: [I0, I1, I2],
      auctions: [auction.result],
      continuousMatches: cont.matches,
      contracts,
      marketContractIds: new Set(['c6', 'c7']),
      lmps: new Map([[I0.start, { B: 2638.0, A: 1698.4, E: -0.5 }]]),
    });
    // I0 bilateral: c1 400 @ 21 + c2 334 @ 30 → (8400 + 10020) / 734 = 25.09… → 25, volume 734
    // I1 bilateral: the same. I2: c2 only, but nothing cleared in I2 → not published.
    expect(prices).toEqual([
      {
        ...I0,
        clearingMinorPerKWh: 20,
        volumeWh: 350,
        bilateralVwapMinorPerKWh: 25,
        bilateralVolumeWh: 734,
        lmps: [
          { node: 'A', minorPerMWh: 1698 },
          { node: 'B', minorPerMWh: 2638 },
          { node: 'E', minorPerMWh: -1 },
        ],
      },
      { ...I1, clearingMinorPerKWh: 15, volumeWh: 250, bilateralVwapMinorPerKWh: 25, bilateralVolumeWh: 734 },
    ]);
    const pub = pricePublication(EXAMPLE_KEYS.hub.id, 'north', 'electricity', 'EUR', prices, I1.end);
    expect(pub).not.toBeNull();
    expect(parsePricePublication(pub).ok).toBe(true);
    expect(pricePublication(EXAMPLE_KEYS.hub.id, 'north', 'electricity', 'EUR', [], I1.end)).toBeNull();
  });

  it('rounds LMPs half away from zero and refuses non-finite ones', () => {
    expect([2.5, -2.5, 2.49, -0.4, 0].map(lmpMinorPerMWh)).toEqual([3, -3, 2, 0, 0]);
    expect(() => lmpMinorPerMWh(Number.NaN)).toThrow(/finite/);
  });
});
