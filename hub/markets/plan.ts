// What the hub appends when an interval's gate closes (auction mode), computed purely from the
// orders in the ledger: one auction-result entry for the book and one market-match entry per
// contracted match. The fold calls the same function and compares (docs/markets.md, "Fold rules").
import type { Interval } from '../../protocol/messages/index.js';
import { type AuctionClearing, clearAuction } from './auction.js';
import { auctionBook, type BookKey, bookEntryOf, type LedgerOrder, outsideBook } from './book.js';
import { type ContinuousOutcome, matchContinuous } from './continuous.js';
import { contractFromMatch, marketContractId } from './contracts.js';
import { type AuctionResult, type MarketMatch, matchesHashOf } from './messages.js';
import { gateClosureOf, type MarketRules, marketRulesHash } from './rules.js';

export interface AuctionPlan {
  result: AuctionResult;
  /** One per match that is not a self-match, in match order. */
  matches: MarketMatch[];
  /** The book that was cleared and the full clearing (for tests, logs and prices). */
  book: LedgerOrder[];
  clearing: AuctionClearing;
}

/**
 * Clears the book (key, interval) from the orders with ledger index ≤ lastIndex. `at` is when
 * the hub signs (≥ gate closure); contracts are created at the gate closure time, so the same
 * orders always make the same contracts.
 */
export function planAuction(
  orders: readonly LedgerOrder[],
  key: BookKey,
  interval: Interval,
  lastIndex: number,
  rules: MarketRules,
  at: number,
): AuctionPlan {
  const gateAt = gateClosureOf(interval.start, rules);
  if (at < gateAt)
    throw new RangeError(`the gate of [${interval.start}, ${interval.end}) closes at ${gateAt}`);
  const book = auctionBook(orders, key, interval, lastIndex, rules);
  const clearing = clearAuction(book.map(bookEntryOf));
  const byHash = new Map(book.map((lo) => [lo.hash, lo]));
  const matches: MarketMatch[] = [];
  for (const m of clearing.matches) {
    if (m.self) continue;
    const contract = contractFromMatch(
      {
        offer: byHash.get(m.offer) as LedgerOrder,
        bid: byHash.get(m.bid) as LedgerOrder,
        interval,
        quantity: m.quantity,
        price: clearing.price as number,
        at: gateAt,
      },
      rules,
    );
    matches.push({
      mode: 'auction',
      offer: m.offer,
      bid: m.bid,
      quantity: m.quantity,
      priceMinor: clearing.price as number,
      contractId: marketContractId(contract),
      contract,
      at,
    });
  }
  const result: AuctionResult = {
    book: key,
    interval: { start: interval.start, end: interval.end },
    gateAt,
    lastIndex,
    rulesHash: marketRulesHash(rules),
    orders: book.length,
    priceMinor: clearing.price,
    range: clearing.range,
    volume: clearing.volume,
    matches: clearing.matches.length,
    matchesHash: matchesHashOf(clearing.matches),
    at,
  };
  return { result, matches, book, clearing };
}

export interface ContinuousPlan {
  /** One per trade that is not a self-match, in trade order; `at` is the market clock. */
  matches: MarketMatch[];
  /** For each match, the ledger index of the arriving order that caused it. */
  causedBy: number[];
  outcome: ContinuousOutcome;
}

/**
 * Continuous mode: runs the book (key, interval) through every order with ledger index ≤
 * lastIndex, in ledger order, and returns the match entries of all its trades. After appending an
 * order the hub appends the matches whose `index` is that order's; the fold recomputes the same.
 */
export function planContinuous(
  orders: readonly LedgerOrder[],
  key: BookKey,
  interval: Interval,
  lastIndex: number,
  rules: MarketRules,
): ContinuousPlan {
  const gateAt = gateClosureOf(interval.start, rules);
  // Expiry and createdAt are the matcher's business (they depend on the market clock).
  const book = orders.filter((lo) => lo.index <= lastIndex && outsideBook(lo, key, interval, rules) === null);
  const byHash = new Map(book.map((lo) => [lo.hash, lo]));
  const outcome = matchContinuous(
    book.map((lo) => ({ entry: bookEntryOf(lo), createdAt: lo.order.createdAt, expires: lo.order.expires })),
    gateAt,
  );
  const matches: MarketMatch[] = [];
  const causedBy: number[] = [];
  for (const t of outcome.trades) {
    if (t.self) continue;
    const contract = contractFromMatch(
      {
        offer: byHash.get(t.offer) as LedgerOrder,
        bid: byHash.get(t.bid) as LedgerOrder,
        interval,
        quantity: t.quantity,
        price: t.price,
        at: t.at,
      },
      rules,
    );
    matches.push({
      mode: 'continuous',
      offer: t.offer,
      bid: t.bid,
      quantity: t.quantity,
      priceMinor: t.price,
      contractId: marketContractId(contract),
      contract,
      at: t.at,
    });
    causedBy.push(t.index);
  }
  return { matches, causedBy, outcome };
}
