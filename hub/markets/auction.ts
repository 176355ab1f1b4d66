// The uniform-price double auction (pay-as-clear) for one book: one region, product and
// settlement interval. Pure and integer-only; docs/markets.md, "The auction", states every rule:
//
//   priority   offers by limit ascending, bids by limit descending; equal limits by ledger index
//              (earlier first), then by order id (code-unit order)
//   volume     walk both curves from the best order: while the best remaining offer's limit ≤ the
//              best remaining bid's limit, trade min(remaining quantities) between the two. This
//              is the largest volume at which supply meets demand (the curves' crossing).
//   price      any price in [low, high] clears the market:
//                low  = max(marginal offer's limit, first unfilled bid's limit)
//                high = min(marginal bid's limit, first unfilled offer's limit)
//              (marginal = the last order that traded; "first unfilled" = the first with quantity
//              left, which may be the partly filled marginal order itself; absent = no bound).
//              price = low + floor((high − low) / 2): the midpoint, rounded down to an integer.
//   fills      by priority (time priority at equal limits); the marginal order may be partly
//              filled; no pro-rata.
//   pairs      the walk's pairs are the matches (at most offers + bids − 1 of them); a pair of one
//              participant with itself is a self-match: quantity consumed, no contract.

/** One order as a book sees it: integer quantity and limit, whatever the product's units. */
export interface BookEntry {
  /** The order's id: base64url message hash of its compact JWS. */
  id: string;
  /** Ledger index of the order's entry (time priority). */
  index: number;
  participant: string;
  side: 'offer' | 'bid';
  /** Wh (energy) or W (flexibility) in this interval. */
  quantity: number;
  /** Minor units per kWh (energy) or per MW·h (flexibility). */
  limit: number;
}

export interface AuctionMatch {
  offer: string;
  bid: string;
  seller: string;
  buyer: string;
  quantity: number;
  /** The seller and the buyer are one participant: nothing is contracted. */
  self: boolean;
}

export interface AuctionClearing {
  /** Clearing price, or null when nothing trades. */
  price: number | null;
  /** The range of prices that clear the market ([price, price] ⊆ it), or null. */
  range: { low: number; high: number } | null;
  /** Traded volume (Σ of match quantities, self-matches included). */
  volume: number;
  matches: AuctionMatch[];
  /** Quantity filled per order id (every order of the book, 0 when unfilled). */
  filled: Record<string, number>;
}

function checkEntry(e: BookEntry, i: number): void {
  const bad = (field: string, what: string) =>
    new RangeError(`book entry ${i} (${e.id}): ${field} must be ${what}`);
  if (!Number.isSafeInteger(e.quantity) || e.quantity < 1) throw bad('quantity', 'an integer ≥ 1');
  if (!Number.isSafeInteger(e.limit) || e.limit < 0) throw bad('limit', 'an integer ≥ 0');
  if (!Number.isSafeInteger(e.index) || e.index < 0) throw bad('index', 'an integer ≥ 0');
  if (e.side !== 'offer' && e.side !== 'bid') throw bad('side', '"offer" or "bid"');
}

const byId = (a: BookEntry, b: BookEntry) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Offers best first: lowest limit, then earliest index, then id. */
export function offerPriority(a: BookEntry, b: BookEntry): number {
  return a.limit - b.limit || a.index - b.index || byId(a, b);
}

/** Bids best first: highest limit, then earliest index, then id. */
export function bidPriority(a: BookEntry, b: BookEntry): number {
  return b.limit - a.limit || a.index - b.index || byId(a, b);
}

/** Checks a book and returns its offers and bids, each in priority order. Throws on bad entries. */
export function sortBook(entries: readonly BookEntry[]): { offers: BookEntry[]; bids: BookEntry[] } {
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    checkEntry(e, i);
    if (seen.has(e.id)) throw new RangeError(`book entry ${i}: order ${e.id} appears twice`);
    seen.add(e.id);
  });
  return {
    offers: entries.filter((e) => e.side === 'offer').sort(offerPriority),
    bids: entries.filter((e) => e.side === 'bid').sort(bidPriority),
  };
}

/** Clears one book. The result depends only on the set of entries, not on their array order. */
export function clearAuction(entries: readonly BookEntry[]): AuctionClearing {
  const { offers, bids } = sortBook(entries);
  const filled: Record<string, number> = {};
  for (const e of entries) filled[e.id] = 0;
  const left = new Map(entries.map((e) => [e.id, e.quantity]));
  const matches: AuctionMatch[] = [];
  let i = 0;
  let j = 0;
  let volume = 0;
  let marginalOffer: BookEntry | undefined;
  let marginalBid: BookEntry | undefined;
  while (i < offers.length && j < bids.length) {
    const o = offers[i] as BookEntry;
    const b = bids[j] as BookEntry;
    if (o.limit > b.limit) break;
    const lo = left.get(o.id) as number;
    const lb = left.get(b.id) as number;
    const q = Math.min(lo, lb);
    matches.push({
      offer: o.id,
      bid: b.id,
      seller: o.participant,
      buyer: b.participant,
      quantity: q,
      self: o.participant === b.participant,
    });
    volume += q;
    filled[o.id] = (filled[o.id] as number) + q;
    filled[b.id] = (filled[b.id] as number) + q;
    left.set(o.id, lo - q);
    left.set(b.id, lb - q);
    marginalOffer = o;
    marginalBid = b;
    if (lo === q) i++;
    if (lb === q) j++;
  }
  if (marginalOffer === undefined || marginalBid === undefined)
    return { price: null, range: null, volume: 0, matches, filled };
  // offers[i] / bids[j] are now the first orders with quantity left (possibly the marginal ones).
  const nextOffer = offers[i];
  const nextBid = bids[j];
  const low = Math.max(marginalOffer.limit, nextBid?.limit ?? marginalOffer.limit);
  const high = Math.min(marginalBid.limit, nextOffer?.limit ?? marginalBid.limit);
  const price = low + Math.floor((high - low) / 2);
  return { price, range: { low, high }, volume, matches, filled };
}
