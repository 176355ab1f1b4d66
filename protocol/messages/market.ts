// The hub-signed ledger entries of the market (docs/markets.md); every ledger verifier knows them.
//
//   wattproof.auction-result.v1  one per book and interval, at gate closure: the book's extent
//                                (lastIndex), the rules' hash, price, range, volume, and a hash
//                                of every match (self-matches included), so the fold recomputes
//                                the clearing and compares
//   wattproof.market-match.v1    one per contracted match (auction or continuous): the two order
//                                hashes, quantity, price, and the contract it makes, in full
import { z } from 'zod';
import { b64url } from '../bytes.js';
import { sha256 } from '../hash.js';
import {
  contractId,
  energyType,
  hash32,
  interval,
  name,
  nonNegativeInt,
  parseWith,
  positiveInt,
  type RuleIssue,
  safeInt,
  settlementIntervalRules,
  utcMs,
  withRules,
} from './common.js';
import { contractSchema } from './contract.js';

export const AUCTION_RESULT_TYP = 'wattproof.auction-result.v1';
export const MARKET_MATCH_TYP = 'wattproof.market-match.v1';

export const bookKeySchema = z.discriminatedUnion('product', [
  z.strictObject({ region: name, product: z.literal('energy'), energy: energyType }),
  z.strictObject({
    region: name,
    product: z.literal('flexibility'),
    direction: z.enum(['discharge', 'charge']),
  }),
]);

const auctionResultStructure = z.strictObject({
  book: bookKeySchema,
  interval,
  /** Gate closure of the interval (interval.start − gateClosureLeadMs). */
  gateAt: utcMs,
  /** The book is every eligible order with ledger index ≤ lastIndex. */
  lastIndex: safeInt.min(-1, 'must be ≥ −1 (−1: an empty ledger)'),
  /** base64url SHA-256 of the market rules' canonical JSON. */
  rulesHash: hash32,
  /** Orders in the book (both sides). */
  orders: nonNegativeInt,
  /** Clearing price, or null when nothing traded. */
  priceMinor: nonNegativeInt.nullable(),
  range: z.strictObject({ low: nonNegativeInt, high: nonNegativeInt }).nullable(),
  volume: nonNegativeInt,
  /** Matches, self-matches included; matchesHash = matchesHashOf(those matches). */
  matches: nonNegativeInt,
  matchesHash: hash32,
  at: utcMs,
});

function auctionResultRules(v: z.output<typeof auctionResultStructure>): RuleIssue[] {
  const out = settlementIntervalRules(v.interval, ['interval']);
  if (v.gateAt > v.interval.start)
    out.push({ path: ['gateAt'], message: 'must not be after interval.start' });
  if ((v.priceMinor === null) !== (v.range === null) || (v.priceMinor === null) !== (v.volume === 0))
    out.push({ path: ['priceMinor'], message: 'price, range and volume > 0 go together' });
  if (
    v.range !== null &&
    v.priceMinor !== null &&
    (v.priceMinor < v.range.low || v.priceMinor > v.range.high)
  )
    out.push({ path: ['priceMinor'], message: 'must lie in range' });
  if (v.at < v.gateAt) out.push({ path: ['at'], message: 'must not be before gateAt' });
  return out;
}

export const auctionResultSchema = withRules(auctionResultStructure, auctionResultRules);
export type AuctionResult = z.output<typeof auctionResultSchema>;

export function parseAuctionResult(payload: unknown) {
  return parseWith(auctionResultSchema, payload);
}

export const marketMatchSchema = z.strictObject({
  mode: z.enum(['auction', 'continuous']),
  /** Message hashes of the offer and the bid (the orders that authorise the contract). */
  offer: hash32,
  bid: hash32,
  /** Wh (energy) or W (flexibility). */
  quantity: positiveInt,
  /** Minor per kWh (energy) or per MW·h of availability (flexibility). */
  priceMinor: nonNegativeInt,
  contractId,
  contract: contractSchema,
  at: utcMs,
});

export type MarketMatch = z.output<typeof marketMatchSchema>;

export function parseMarketMatch(payload: unknown) {
  return parseWith(marketMatchSchema, payload);
}

/** SHA-256 over "offer bid quantity" lines (in match order) joined by "\n", base64url. */
export function matchesHashOf(matches: readonly { offer: string; bid: string; quantity: number }[]): string {
  return b64url.encode(sha256(matches.map((m) => `${m.offer} ${m.bid} ${m.quantity}`).join('\n')));
}
