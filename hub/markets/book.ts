// Books: which orders take part in the clearing of one region, product and settlement interval.
// An order stands, with its full quantity and limit, in every interval of its window whose gate
// closes before the order expires; each interval's book is cleared on its own.
import type { Interval, Order } from '../../protocol/messages/index.js';
import { orderLimit, orderQuantity } from '../../protocol/messages/index.js';
import type { BookEntry } from './auction.js';
import { gateClosureOf, type MarketRules } from './rules.js';

/** An order as the ledger holds it: the verified payload, its message hash (the id) and index. */
export interface LedgerOrder {
  order: Order;
  /** base64url message hash of the order's compact JWS. */
  hash: string;
  /** Its leaf index in the ledger. */
  index: number;
}

/** What a book trades: energy of one carrier, or flexibility in one direction, in one region. */
export type BookKey =
  | { region: string; product: 'energy'; energy: 'electricity' | 'heat' | 'gas' }
  | { region: string; product: 'flexibility'; direction: 'discharge' | 'charge' };

export function bookKeyOf(o: Order): BookKey {
  return o.product === 'energy'
    ? { region: o.region, product: 'energy', energy: o.energy }
    : { region: o.region, product: 'flexibility', direction: o.direction };
}

/** "north/electricity", "north/flexibility-discharge": a book's name in logs and maps. */
export function bookName(k: BookKey): string {
  return `${k.region}/${k.product === 'energy' ? k.energy : `flexibility-${k.direction}`}`;
}

export function sameBook(a: BookKey, b: BookKey): boolean {
  return bookName(a) === bookName(b);
}

export type Ineligibility =
  | 'other-book'
  | 'other-currency'
  | 'other-period'
  | 'outside-window'
  | 'created-after-gate'
  | 'expired'
  | 'after-last-index';

/** Why an order is not of the book (key, interval) at all, whatever the time, or null. */
export function outsideBook(
  lo: LedgerOrder,
  key: BookKey,
  interval: Interval,
  rules: MarketRules,
): Exclude<Ineligibility, 'created-after-gate' | 'expired' | 'after-last-index'> | null {
  const o = lo.order;
  if (!sameBook(bookKeyOf(o), key)) return 'other-book';
  if (o.currency !== rules.currency) return 'other-currency';
  if (o.settlementPeriodMs !== rules.settlementPeriodMs) return 'other-period';
  if (interval.start < o.window.start || interval.end > o.window.end) return 'outside-window';
  return null;
}

/**
 * Why an order takes no part in the auction of (key, interval) cleared at `gateAt` from the
 * entries up to `lastIndex`, or null when it does: of the book (outsideBook), index ≤ lastIndex,
 * createdAt ≤ gateAt < expires.
 */
export function ineligibility(
  lo: LedgerOrder,
  key: BookKey,
  interval: Interval,
  gateAt: number,
  lastIndex: number,
  rules: MarketRules,
): Ineligibility | null {
  const outside = outsideBook(lo, key, interval, rules);
  if (outside !== null) return outside;
  if (lo.index > lastIndex) return 'after-last-index';
  if (lo.order.createdAt > gateAt) return 'created-after-gate';
  if (lo.order.expires <= gateAt) return 'expired';
  return null;
}

export function bookEntryOf(lo: LedgerOrder): BookEntry {
  return {
    id: lo.hash,
    index: lo.index,
    participant: lo.order.participant,
    side: lo.order.side,
    quantity: orderQuantity(lo.order),
    limit: orderLimit(lo.order),
  };
}

/** The auction book of one key and interval, gate closure by the rules, entries up to lastIndex. */
export function auctionBook(
  orders: readonly LedgerOrder[],
  key: BookKey,
  interval: Interval,
  lastIndex: number,
  rules: MarketRules,
): LedgerOrder[] {
  const gateAt = gateClosureOf(interval.start, rules);
  return orders.filter((lo) => ineligibility(lo, key, interval, gateAt, lastIndex, rules) === null);
}
