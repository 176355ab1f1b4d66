// The demo's trade planner, by hand: the largest seller meets the largest buyer, quantities are
// whole tens of Wh per interval, and what is left goes to the auction.
import { describe, expect, it } from 'vitest';
import { planTrades } from '../demo/trades.js';

const o = {
  windowStart: 900_000,
  intervalMs: 900_000,
  intervals: 2,
  maxContracts: 1,
  referenceMinorPerKWh: 25,
};
const f = (site: string, surplusWh: number) => ({ site, gw: `gw-${site}`, bus: 'A', surplusWh });

describe('planTrades', () => {
  it('pairs the largest seller with the largest buyer, and sends the rest to the auction', () => {
    const plan = planTrades([f('s1', 3000), f('s2', 1000), f('b1', -2005), f('b2', -400), f('idle', 5)], o);
    // min(3000, 2005) / 2 intervals = 1002.5 → 1000 Wh per interval.
    expect(plan.contracts).toEqual([
      {
        seller: 's1',
        buyer: 'b1',
        whPerInterval: 1000,
        priceMinorPerKWh: 25,
        window: { start: 900_000, end: 2_700_000 },
      },
    ]);
    // Left: s1 1000 → 500/interval, s2 1000 → 500, b1 −5 → nothing, b2 −400 → 200.
    expect(plan.orders.map((x) => [x.site, x.side, x.wh])).toEqual([
      ['s1', 'offer', 500],
      ['s2', 'offer', 500],
      ['b2', 'bid', 200],
    ]);
    for (const x of plan.orders) {
      expect(x.interval).toEqual({ start: 900_000, end: 1_800_000 });
      if (x.side === 'offer') expect(x.limitMinorPerKWh).toBeLessThanOrEqual(26);
      else expect(x.limitMinorPerKWh).toBeGreaterThanOrEqual(26);
    }
  });

  it('plans nothing when nobody has a surplus or a need', () => {
    expect(planTrades([f('a', 0), f('b', 9), f('c', -9)], o)).toEqual({ contracts: [], orders: [] });
  });
});
