// Continuous matching: a sequence worked by hand (price-time priority, the resting order's price,
// expiry by the market clock, the gate), then properties over random arrival sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookEntry } from './auction.js';
import { type ContinuousArrival, matchContinuous } from './continuous.js';

function arrival(
  id: string,
  index: number,
  side: 'offer' | 'bid',
  quantity: number,
  limit: number,
  createdAt: number,
  expires = 10_000,
  participant = `pt-${id}`,
): ContinuousArrival {
  return { entry: { id, index, side, quantity, limit, participant }, createdAt, expires };
}

describe('continuous matching by hand', () => {
  it('a sequence of arrivals', () => {
    const seq = [
      arrival('A', 1, 'offer', 100, 20, 100), // rests: offers A 100@20
      arrival('B', 2, 'offer', 100, 18, 110), // rests: offers B 100@18, A 100@20
      arrival('C', 3, 'bid', 150, 19, 120), // takes B 100 @ 18 (B's price); A (20) > 19; C rests 50@19
      arrival('D', 4, 'offer', 80, 15, 130), // hits C 50 @ 19 (C's price); D rests 30@15
      arrival('E', 5, 'bid', 200, 25, 140), // takes D 30 @ 15, then A 100 @ 20; E rests 70@25
      arrival('F', 6, 'offer', 50, 30, 150), // 30 > best bid 25: rests
      arrival('G', 7, 'offer', 40, 26, 155, 160), // 26 > 25: rests, expires at 160
      arrival('H', 8, 'bid', 40, 27, 170), // clock 170: G leaves (expired); F 30 > 27: H rests
      arrival('I', 9, 'offer', 10, 1, 5, 165), // createdAt 5 < clock 170: clock stays; expired → refused
      arrival('J', 10, 'offer', 10, 1, 2_000), // clock 2000 ≥ gate 1000 → refused
    ];
    const r = matchContinuous(seq, 1_000);
    expect(r.trades.map((t) => [t.offer, t.bid, t.quantity, t.price, t.at, t.aggressor])).toEqual([
      ['B', 'C', 100, 18, 120, 'bid'],
      ['D', 'C', 50, 19, 130, 'offer'],
      ['D', 'E', 30, 15, 140, 'bid'],
      ['A', 'E', 100, 20, 140, 'bid'],
    ]);
    expect(r.resting).toEqual({
      offers: [{ id: 'F', left: 50 }],
      bids: [
        { id: 'H', left: 40 },
        { id: 'E', left: 70 },
      ],
    });
    expect(r.expired).toEqual(['G']);
    expect(r.refused).toEqual([
      { id: 'I', reason: 'expired' },
      { id: 'J', reason: 'gate-closed' },
    ]);
    expect(r.filled).toMatchObject({ A: 100, B: 100, C: 150, D: 80, E: 130, F: 0, G: 0, H: 0 });
  });

  it('equal prices rest in time order; the earlier order trades first', () => {
    const r = matchContinuous(
      [
        arrival('late', 7, 'offer', 100, 20, 100),
        arrival('early', 3, 'offer', 100, 20, 100),
        arrival('buy', 9, 'bid', 150, 20, 100),
      ],
      1_000,
    );
    expect(r.trades.map((t) => [t.offer, t.quantity])).toEqual([
      ['early', 100],
      ['late', 50],
    ]);
  });
});

const arrivalArb = fc.record({
  side: fc.constantFrom<'offer' | 'bid'>('offer', 'bid'),
  participant: fc.constantFrom('pt-a', 'pt-b', 'pt-c'),
  quantity: fc.integer({ min: 1, max: 500 }),
  limit: fc.integer({ min: 0, max: 30 }),
  createdAt: fc.integer({ min: 0, max: 1_000 }),
  life: fc.integer({ min: 1, max: 1_000 }),
});

const seqArb = fc.array(arrivalArb, { maxLength: 30 }).map((xs) =>
  xs.map(
    (x, i): ContinuousArrival => ({
      entry: {
        id: `o${String(i).padStart(3, '0')}`,
        index: i,
        side: x.side,
        participant: x.participant,
        quantity: x.quantity,
        limit: x.limit,
      },
      createdAt: x.createdAt,
      expires: x.createdAt + x.life,
    }),
  ),
);

describe('continuous matching properties', () => {
  it('quantities, limits, balance, an uncrossed book, and arrival-order independence', () => {
    fc.assert(
      fc.property(seqArb, fc.integer({ min: 200, max: 1_200 }), (seq, gate) => {
        const r = matchContinuous(seq, gate);
        const byId = new Map<string, BookEntry>(seq.map((a) => [a.entry.id, a.entry]));
        let sold = 0;
        for (const t of r.trades) {
          const o = byId.get(t.offer) as BookEntry;
          const b = byId.get(t.bid) as BookEntry;
          expect(t.price).toBeGreaterThanOrEqual(o.limit);
          expect(t.price).toBeLessThanOrEqual(b.limit);
          expect(t.at).toBeLessThan(gate);
          sold += t.quantity;
        }
        let offered = 0;
        let bid = 0;
        for (const a of seq) {
          const f = r.filled[a.entry.id] as number;
          expect(f).toBeLessThanOrEqual(a.entry.quantity);
          if (a.entry.side === 'offer') offered += f;
          else bid += f;
        }
        expect(offered).toBe(sold);
        expect(bid).toBe(sold);
        const bestBid = r.resting.bids[0];
        const bestOffer = r.resting.offers[0];
        if (bestBid && bestOffer)
          expect((byId.get(bestBid.id) as BookEntry).limit).toBeLessThan(
            (byId.get(bestOffer.id) as BookEntry).limit,
          );
        expect(matchContinuous([...seq].reverse(), gate)).toEqual(r);
      }),
      { numRuns: 200 },
    );
  });
});
