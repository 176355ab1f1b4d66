// Properties of the auction over random books (fast-check): no order trades beyond its quantity,
// buyers never pay above their limit and sellers never receive below theirs, bought = sold, the
// volume is the largest the curves allow (checked by brute force over every price), nothing left
// in the book would trade at the price, and the result does not depend on arrival order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BookEntry, clearAuction } from './auction.js';

const entryArb = fc.record({
  side: fc.constantFrom<'offer' | 'bid'>('offer', 'bid'),
  participant: fc.constantFrom('pt-a', 'pt-b', 'pt-c', 'pt-d'),
  quantity: fc.integer({ min: 1, max: 1_000 }),
  limit: fc.integer({ min: 0, max: 40 }),
});

/** Books of up to 24 orders with distinct ledger indexes (as a ledger gives them). */
const bookArb = fc.array(entryArb, { maxLength: 24 }).chain((entries) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: 10_000 }), {
      minLength: entries.length,
      maxLength: entries.length,
    })
    .map((indexes) =>
      entries.map(
        (e, i): BookEntry => ({
          ...e,
          id: `o${String(indexes[i]).padStart(5, '0')}`,
          index: indexes[i] as number,
        }),
      ),
    ),
);

/** The largest volume any single price allows: max over p of min(supply ≤ p, demand ≥ p). */
function bruteForceVolume(book: readonly BookEntry[]): number {
  let best = 0;
  for (let p = 0; p <= 40; p++) {
    const s = book.filter((e) => e.side === 'offer' && e.limit <= p).reduce((a, e) => a + e.quantity, 0);
    const d = book.filter((e) => e.side === 'bid' && e.limit >= p).reduce((a, e) => a + e.quantity, 0);
    best = Math.max(best, Math.min(s, d));
  }
  return best;
}

describe('auction properties', () => {
  it('limits, quantities, balance, maximal volume, a clearing price', () => {
    fc.assert(
      fc.property(bookArb, (book) => {
        const r = clearAuction(book);
        const byId = new Map(book.map((e) => [e.id, e]));
        let sold = 0;
        let bought = 0;
        for (const m of r.matches) {
          const o = byId.get(m.offer) as BookEntry;
          const b = byId.get(m.bid) as BookEntry;
          expect(o.side).toBe('offer');
          expect(b.side).toBe('bid');
          expect(m.quantity).toBeGreaterThan(0);
          // sellers never receive below their limit, buyers never pay above theirs
          expect(r.price as number).toBeGreaterThanOrEqual(o.limit);
          expect(r.price as number).toBeLessThanOrEqual(b.limit);
          sold += m.quantity;
          bought += m.quantity;
        }
        for (const e of book) {
          const f = r.filled[e.id] as number;
          expect(f).toBeGreaterThanOrEqual(0);
          expect(f).toBeLessThanOrEqual(e.quantity);
          const inMatches = r.matches
            .filter((m) => m.offer === e.id || m.bid === e.id)
            .reduce((a, m) => a + m.quantity, 0);
          expect(f).toBe(inMatches);
          // what is left would not trade at the price (or is indifferent at its own limit)
          if (r.price !== null && f < e.quantity) {
            if (e.side === 'offer') expect(e.limit).toBeGreaterThanOrEqual(r.price);
            else expect(e.limit).toBeLessThanOrEqual(r.price);
          }
        }
        const offersFilled = book
          .filter((e) => e.side === 'offer')
          .reduce((a, e) => a + (r.filled[e.id] as number), 0);
        const bidsFilled = book
          .filter((e) => e.side === 'bid')
          .reduce((a, e) => a + (r.filled[e.id] as number), 0);
        expect(offersFilled).toBe(bidsFilled);
        expect(sold).toBe(r.volume);
        expect(bought).toBe(r.volume);
        expect(r.volume).toBe(bruteForceVolume(book));
        expect(r.price === null).toBe(r.volume === 0);
        if (r.range !== null && r.price !== null) {
          expect(r.range.low).toBeLessThanOrEqual(r.price);
          expect(r.price).toBeLessThanOrEqual(r.range.high);
          expect(r.price).toBe(r.range.low + Math.floor((r.range.high - r.range.low) / 2));
        }
        // at most one pair per step of either curve
        expect(r.matches.length).toBeLessThanOrEqual(Math.max(0, book.length - 1));
      }),
      { numRuns: 300 },
    );
  });

  it('deterministic: the same orders in any arrival order give the same result', () => {
    fc.assert(
      fc.property(
        bookArb.chain((book) =>
          fc.tuple(fc.constant(book), fc.shuffledSubarray(book, { minLength: book.length })),
        ),
        ([book, shuffled]) => {
          expect(clearAuction(shuffled)).toEqual(clearAuction(book));
        },
      ),
      { numRuns: 200 },
    );
  });
});
