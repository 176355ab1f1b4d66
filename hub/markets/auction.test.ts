// The uniform-price double auction on books whose clearing was worked out by hand (the comments
// show the arithmetic), then ties and partial fills as docs/markets.md documents them.
import { describe, expect, it } from 'vitest';
import { type BookEntry, clearAuction } from './auction.js';

let next = 0;
function offer(
  id: string,
  quantity: number,
  limit: number,
  index = next++,
  participant = `s-${id}`,
): BookEntry {
  return { id, index, participant, side: 'offer', quantity, limit };
}
function bid(
  id: string,
  quantity: number,
  limit: number,
  index = next++,
  participant = `b-${id}`,
): BookEntry {
  return { id, index, participant, side: 'bid', quantity, limit };
}

describe('clearing known curves', () => {
  it('crossing inside an offer step: the partly filled marginal offer sets the price', () => {
    // Supply (ascending)          Demand (descending)
    //   O1 100 Wh @ 10              B1 150 Wh @ 35
    //   O2 200 Wh @ 15              B2 200 Wh @ 25
    //   O3 300 Wh @ 20              B3 250 Wh @ 18
    //   O4 200 Wh @ 30              B4 100 Wh @ 12
    // Cumulative supply at a price p: ≤10: 100, ≤15: 300, ≤20: 600, ≤30: 800.
    // Cumulative demand at p:        ≥35: 150, ≥25: 350, ≥18: 600, ≥12: 700.
    // At p = 20 supply is 600 and demand 350 (B3 will not pay 20); at p = 19 supply 300 < demand
    // 350. The curves cross at 350 Wh, on O3's step: price 20.
    // The walk: O1→B1 100; O2→B1 50; O2→B2 150; O3→B2 50; then O3 (20) > B3 (18): stop.
    // low  = max(marginal offer O3 20, first unfilled bid B3 18) = 20
    // high = min(marginal bid B2 25, first unfilled offer O3 20) = 20        → price 20
    const r = clearAuction([
      offer('O1', 100, 10),
      offer('O2', 200, 15),
      offer('O3', 300, 20),
      offer('O4', 200, 30),
      bid('B1', 150, 35),
      bid('B2', 200, 25),
      bid('B3', 250, 18),
      bid('B4', 100, 12),
    ]);
    expect(r.price).toBe(20);
    expect(r.range).toEqual({ low: 20, high: 20 });
    expect(r.volume).toBe(350);
    expect(r.filled).toEqual({ O1: 100, O2: 200, O3: 50, O4: 0, B1: 150, B2: 200, B3: 0, B4: 0 });
    expect(r.matches.map((m) => [m.offer, m.bid, m.quantity])).toEqual([
      ['O1', 'B1', 100],
      ['O2', 'B1', 50],
      ['O2', 'B2', 150],
      ['O3', 'B2', 50],
    ]);
  });

  it('crossing inside a bid step: the partly filled marginal bid sets the price', () => {
    // Supply: O1 300 @ 8, O2 300 @ 26.   Demand: B1 100 @ 40, B2 400 @ 22.
    // Walk: O1→B1 100, O1→B2 200; O2 (26) > B2 (22): stop. Volume 300.
    // low = max(O1 8, first unfilled bid B2 22) = 22; high = min(B2 22, O2 26) = 22 → price 22.
    // Check: at 22 demand (500) exceeds supply (300), but the 200 left is B2's own, at its limit,
    // so B2 is indifferent; at 23 demand falls to 100 and O1 (willing from 8) would sell 300:
    // above 22 the market does not clear, below 22 neither (demand 500 > supply 300). Only 22.
    const r = clearAuction([
      offer('O1', 300, 8),
      offer('O2', 300, 26),
      bid('B1', 100, 40),
      bid('B2', 400, 22),
    ]);
    expect([r.price, r.volume]).toEqual([22, 300]);
    expect(r.filled).toEqual({ O1: 300, O2: 0, B1: 100, B2: 200 });
  });

  it('vertical overlap: every price in [low, high] clears; the midpoint is taken, rounded down', () => {
    // Supply: O1 100 @ 10, O2 100 @ 14.  Demand: B1 100 @ 30, B2 100 @ 23, B3 50 @ 8.
    // Walk: O1→B1 100, O2→B2 100; offers exhausted. Volume 200.
    // low = max(marginal offer O2 14, first unfilled bid B3 8) = 14
    // high = min(marginal bid B2 23, no offer left) = 23
    // Any price in [14, 23] trades exactly 200 Wh. Midpoint 18.5 → 14 + floor(9 / 2) = 18.
    const r = clearAuction([
      offer('O1', 100, 10),
      offer('O2', 100, 14),
      bid('B1', 100, 30),
      bid('B2', 100, 23),
      bid('B3', 50, 8),
    ]);
    expect(r.range).toEqual({ low: 14, high: 23 });
    expect([r.price, r.volume]).toEqual([18, 200]);
  });

  it('an unfilled offer below the marginal bid bounds the price from above', () => {
    // Supply: O1 100 @ 5, O2 100 @ 12.  Demand: B1 100 @ 20.
    // Walk: O1→B1 100; bids exhausted. low = max(5, none) = 5; high = min(B1 20, O2 12) = 12.
    // At 13 O2 would sell and nobody buys it: 12 is the highest clearing price. Price 5 + 3 = 8.
    const r = clearAuction([offer('O1', 100, 5), offer('O2', 100, 12), bid('B1', 100, 20)]);
    expect(r.range).toEqual({ low: 5, high: 12 });
    expect([r.price, r.volume]).toEqual([8, 100]);
  });

  it('no crossing, or one side empty: nothing trades and there is no price', () => {
    for (const book of [[offer('O', 10, 30), bid('B', 10, 29)], [offer('O', 10, 1)], [bid('B', 10, 1)], []]) {
      const r = clearAuction(book);
      expect([r.price, r.range, r.volume, r.matches]).toEqual([null, null, 0, []]);
    }
  });

  it('a price of 0 is a price: free energy clears at 0', () => {
    const r = clearAuction([offer('O', 500, 0), bid('B', 200, 0)]);
    expect([r.price, r.volume]).toEqual([0, 200]);
  });
});

describe('ties and partial fills (time priority, no pro rata)', () => {
  it('equal limits fill by ledger index; the last one in time is the one partly filled', () => {
    // Three offers at 15: X (index 30), Y (index 10), Z (index 20); demand 250 @ 15.
    // Order by index: Y 100, Z 100, X 50 (partial). Price 15.
    const r = clearAuction([
      offer('X', 100, 15, 30),
      offer('Y', 100, 15, 10),
      offer('Z', 100, 15, 20),
      bid('B', 250, 15, 40),
    ]);
    expect(r.filled).toEqual({ X: 50, Y: 100, Z: 100, B: 250 });
    expect(r.matches.map((m) => m.offer)).toEqual(['Y', 'Z', 'X']);
    expect(r.price).toBe(15);
  });

  it('equal limits and equal index (not possible in one ledger) fall back to the order id', () => {
    const r = clearAuction([offer('b', 100, 15, 7), offer('a', 100, 15, 7), bid('B', 150, 20, 8)]);
    expect(r.filled).toMatchObject({ a: 100, b: 50 });
  });

  it('bids at equal limits fill by index too, and a better price beats an earlier time', () => {
    // Bids: P 100 @ 20 (index 5), Q 100 @ 20 (index 2), R 100 @ 25 (index 9). Supply 150 @ 10.
    // Priority: R (25) first despite its later index, then Q (index 2), then P.
    const r = clearAuction([
      bid('P', 100, 20, 5),
      bid('Q', 100, 20, 2),
      bid('R', 100, 25, 9),
      offer('S', 150, 10, 1),
    ]);
    expect(r.filled).toEqual({ R: 100, Q: 50, P: 0, S: 150 });
    // low = max(S 10, first unfilled bid Q 20) = 20; high = min(Q 20, none) = 20.
    expect(r.price).toBe(20);
  });

  it('a participant on both sides is matched with itself as a self-match (no contract later)', () => {
    const r = clearAuction([
      offer('O', 100, 10, 1, 'pt-same'),
      bid('B', 100, 20, 2, 'pt-same'),
      bid('C', 50, 30, 3, 'pt-other'),
    ]);
    // C (30) is served first: O→C 50; then O→B 50, a self-match.
    expect(r.matches.map((m) => [m.bid, m.quantity, m.self])).toEqual([
      ['C', 50, false],
      ['B', 50, true],
    ]);
  });

  it('refuses bad entries with the field named', () => {
    expect(() => clearAuction([offer('O', 1.5, 10)])).toThrow(/quantity must be an integer ≥ 1/);
    expect(() => clearAuction([offer('O', 10, -1)])).toThrow(/limit must be an integer ≥ 0/);
    expect(() => clearAuction([offer('O', 10, 1, -1)])).toThrow(/index/);
    expect(() => clearAuction([offer('O', 10, 1), bid('O', 10, 1)])).toThrow(/appears twice/);
    const odd = { ...offer('O', 10, 1), side: 'sell' } as unknown as BookEntry;
    expect(() => clearAuction([odd])).toThrow(/side/);
  });
});
