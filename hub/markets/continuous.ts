// Continuous matching for one book and interval (the market's optional mode): orders are taken
// in ledger order; each one trades at once against the best resting orders of the other side
// (price, then time priority), at the resting order's limit, and what is left rests. Pure and
// integer-only; docs/markets.md, "Continuous matching", states the rules:
//
//   arrival order   ledger index (then order id), whatever order the array is in
//   market clock    the running maximum of the arrivals' createdAt (ingest bounds createdAt to
//                   the hub's clock ± maxClockSkewMs), so time never runs backwards and an order
//                   that expired cannot come back
//   expiry          at each arrival, resting orders with expires ≤ clock leave the book; an
//                   arrival with expires ≤ clock is refused
//   gate            an arrival with clock ≥ gateAt is refused: the interval is closed
//   self-match      as in the auction: quantity consumed on both sides, no contract
import { type BookEntry, bidPriority, offerPriority, sortBook } from './auction.js';

export interface ContinuousArrival {
  entry: BookEntry;
  createdAt: number;
  expires: number;
}

export interface ContinuousTrade {
  offer: string;
  bid: string;
  seller: string;
  buyer: string;
  quantity: number;
  /** The resting order's limit. */
  price: number;
  /** The market clock when the trade happened. */
  at: number;
  /** The arriving order's ledger index (the entry that caused the trade). */
  index: number;
  aggressor: 'offer' | 'bid';
  self: boolean;
}

export type ContinuousRefusal = 'gate-closed' | 'expired';

export interface ContinuousOutcome {
  trades: ContinuousTrade[];
  /** What rests in the book at the end, each side in priority order, with quantity left. */
  resting: { offers: { id: string; left: number }[]; bids: { id: string; left: number }[] };
  /** Resting orders removed because they expired, in the order they left. */
  expired: string[];
  refused: { id: string; reason: ContinuousRefusal }[];
  filled: Record<string, number>;
}

interface Resting {
  a: ContinuousArrival;
  left: number;
}

function insertSorted(list: Resting[], r: Resting, cmp: (x: BookEntry, y: BookEntry) => number): void {
  let i = list.length;
  while (i > 0 && cmp((list[i - 1] as Resting).a.entry, r.a.entry) > 0) i--;
  list.splice(i, 0, r);
}

/** Runs the book from empty through the arrivals. The gate closes at gateAt. */
export function matchContinuous(arrivals: readonly ContinuousArrival[], gateAt: number): ContinuousOutcome {
  sortBook(arrivals.map((a) => a.entry)); // checks every entry (integers, unique ids)
  const ordered = [...arrivals].sort(
    (x, y) =>
      x.entry.index - y.entry.index || (x.entry.id < y.entry.id ? -1 : x.entry.id > y.entry.id ? 1 : 0),
  );
  const offers: Resting[] = [];
  const bids: Resting[] = [];
  const out: ContinuousOutcome = {
    trades: [],
    resting: { offers: [], bids: [] },
    expired: [],
    refused: [],
    filled: {},
  };
  for (const a of arrivals) out.filled[a.entry.id] = 0;
  let clock = 0;
  for (const a of ordered) {
    clock = Math.max(clock, a.createdAt);
    if (clock >= gateAt) {
      out.refused.push({ id: a.entry.id, reason: 'gate-closed' });
      continue;
    }
    for (const side of [offers, bids])
      for (let i = side.length - 1; i >= 0; i--)
        if ((side[i] as Resting).a.expires <= clock) {
          out.expired.push((side[i] as Resting).a.entry.id);
          side.splice(i, 1);
        }
    if (a.expires <= clock) {
      out.refused.push({ id: a.entry.id, reason: 'expired' });
      continue;
    }
    const e = a.entry;
    const other = e.side === 'bid' ? offers : bids;
    let left = e.quantity;
    while (left > 0 && other.length > 0) {
      const best = other[0] as Resting;
      const crosses = e.side === 'bid' ? best.a.entry.limit <= e.limit : best.a.entry.limit >= e.limit;
      if (!crosses) break;
      const q = Math.min(left, best.left);
      const [o, b] = e.side === 'bid' ? [best.a.entry, e] : [e, best.a.entry];
      out.trades.push({
        offer: o.id,
        bid: b.id,
        seller: o.participant,
        buyer: b.participant,
        quantity: q,
        price: best.a.entry.limit,
        at: clock,
        index: e.index,
        aggressor: e.side,
        self: o.participant === b.participant,
      });
      out.filled[o.id] = (out.filled[o.id] as number) + q;
      out.filled[b.id] = (out.filled[b.id] as number) + q;
      left -= q;
      best.left -= q;
      if (best.left === 0) other.shift();
    }
    if (left > 0) {
      if (e.side === 'offer') insertSorted(offers, { a, left }, offerPriority);
      else insertSorted(bids, { a, left }, bidPriority);
    }
  }
  out.resting.offers = offers.map((r) => ({ id: r.a.entry.id, left: r.left }));
  out.resting.bids = bids.map((r) => ({ id: r.a.entry.id, left: r.left }));
  return out;
}
