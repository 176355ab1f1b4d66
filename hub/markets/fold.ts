// The market's part of the deterministic fold: orders, auction results and market matches, in
// log order. Like the contracts fold it never throws on bad input: an entry that cannot apply is
// refused with a code and a sentence and changes nothing. A market match that applies yields the
// contract it makes, for the contracts fold to take in as `proposed` (authorised by the two
// orders, see docs/markets.md, "Fold rules"); the validator then reviews it like any contract.
import { type Contract, ORDER_TYP, parseOrder } from '../../protocol/messages/index.js';
import { canonicalText } from '../validator/congestion/canonical.js';
import { type BookKey, bookKeyOf, bookName, type LedgerOrder } from './book.js';
import { marketContractId } from './contracts.js';
import {
  AUCTION_RESULT_TYP,
  type AuctionResult,
  MARKET_MATCH_TYP,
  type MarketMatch,
  parseAuctionResult,
  parseMarketMatch,
} from './messages.js';
import { planAuction, planContinuous } from './plan.js';
import { gateClosureOf, type MarketRules, marketRulesHash } from './rules.js';

/** One ledger entry as the fold sees it (the same shape as hub/contracts' LogEntry). */
export interface MarketLogEntry {
  index: number;
  typ: string;
  kid: string;
  /** The payload as JSON.parse read it from the signed bytes. */
  payload: unknown;
  messageHash: string;
}

export interface MarketFoldConfig {
  rules: MarketRules;
  hubKids: readonly string[];
}

export interface MarketNotice {
  index: number;
  typ: string;
  code: string;
  message: string;
}

export interface MarketFoldState {
  /** Every order in the log, in log order. */
  orders: LedgerOrder[];
  orderByHash: Map<string, LedgerOrder>;
  /** Recorded auction results by "book@intervalStart". */
  auctions: Map<string, AuctionResult>;
  /** The contracted matches the last auction result still owes the log, in order. */
  pending: MarketMatch[];
  /** Continuous matches recorded per "book@intervalStart". */
  continuousCount: Map<string, number>;
  /** Market-made contracts: id → the index of its match entry and the two orders. */
  contracts: Map<string, { matchIndex: number; offer: string; bid: string }>;
  notices: MarketNotice[];
}

export function emptyMarketState(): MarketFoldState {
  return {
    orders: [],
    orderByHash: new Map(),
    auctions: new Map(),
    pending: [],
    continuousCount: new Map(),
    contracts: new Map(),
    notices: [],
  };
}

/** A contract the market made, to enter the contracts fold as `proposed`. */
export interface MarketProposal {
  id: string;
  contract: Contract;
  /** Ledger indexes of the authorising offer (seller) and bid (buyer), and of the match entry. */
  offerIndex: number;
  bidIndex: number;
  matchIndex: number;
}

export type MarketApply =
  | { applied: true; proposal?: MarketProposal }
  | { applied: false; code: string; message: string }
  | { applied: false; code: 'not-a-market-entry' };

const bookAt = (key: BookKey, start: number) => `${bookName(key)}@${start}`;

function refuse(state: MarketFoldState, e: MarketLogEntry, code: string, message: string): MarketApply {
  state.notices.push({ index: e.index, typ: e.typ, code, message });
  return { applied: false, code, message };
}

/** Field-by-field differences of two JSON values (sorted-key JSON per top-level field). */
function differences(expected: Record<string, unknown>, got: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(got)])].sort();
  return keys
    .filter((k) => canonicalText(expected[k] ?? null) !== canonicalText(got[k] ?? null))
    .map((k) => `${k}: expected ${canonicalText(expected[k] ?? null)}, got ${canonicalText(got[k] ?? null)}`);
}

/** The typs the market's fold reads: applyMarketEntry leaves every other entry alone. */
export const MARKET_TYPS: readonly string[] = [ORDER_TYP, AUCTION_RESULT_TYP, MARKET_MATCH_TYP];

/** Applies one entry if it is a market entry (order, auction result, market match). */
export function applyMarketEntry(
  state: MarketFoldState,
  e: MarketLogEntry,
  config: MarketFoldConfig,
): MarketApply {
  if (e.typ === ORDER_TYP) return applyOrder(state, e);
  if (e.typ === AUCTION_RESULT_TYP) return applyAuctionResult(state, e, config);
  if (e.typ === MARKET_MATCH_TYP) return applyMarketMatch(state, e, config);
  return { applied: false, code: 'not-a-market-entry' };
}

function applyOrder(state: MarketFoldState, e: MarketLogEntry): MarketApply {
  const parsed = parseOrder(e.payload);
  if (!parsed.ok)
    return refuse(state, e, 'schema', parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  if (parsed.value.participant !== e.kid)
    return refuse(state, e, 'signer-not-participant', `signed by ${e.kid}, not ${parsed.value.participant}`);
  if (state.orderByHash.has(e.messageHash))
    return refuse(state, e, 'duplicate-order', 'this order is already in the log');
  const lo: LedgerOrder = { order: parsed.value, hash: e.messageHash, index: e.index };
  state.orders.push(lo);
  state.orderByHash.set(lo.hash, lo);
  return { applied: true };
}

function applyAuctionResult(
  state: MarketFoldState,
  e: MarketLogEntry,
  config: MarketFoldConfig,
): MarketApply {
  const { rules } = config;
  if (!config.hubKids.includes(e.kid)) return refuse(state, e, 'not-the-hub', `${e.kid} is not the hub`);
  if (rules.mode !== 'auction')
    return refuse(state, e, 'wrong-mode', `the market runs in ${rules.mode} mode; it has no auctions`);
  const parsed = parseAuctionResult(e.payload);
  if (!parsed.ok)
    return refuse(state, e, 'schema', parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  const r = parsed.value;
  if (state.pending.length > 0)
    return refuse(
      state,
      e,
      'matches-pending',
      `${state.pending.length} match entries of the previous auction are still to come`,
    );
  if (r.rulesHash !== marketRulesHash(rules))
    return refuse(state, e, 'rules-mismatch', `rulesHash ${r.rulesHash} is not the market rules' hash`);
  if (r.lastIndex >= e.index)
    return refuse(
      state,
      e,
      'last-index-not-before',
      `lastIndex ${r.lastIndex} is not before entry ${e.index}`,
    );
  if (r.gateAt !== gateClosureOf(r.interval.start, rules))
    return refuse(state, e, 'gate-mismatch', `gateAt must be ${gateClosureOf(r.interval.start, rules)}`);
  const key = bookAt(r.book, r.interval.start);
  if (state.auctions.has(key)) return refuse(state, e, 'already-cleared', `${key} is already cleared`);
  const plan = planAuction(state.orders, r.book, r.interval, r.lastIndex, rules, r.at);
  const diff = differences(
    plan.result as unknown as Record<string, unknown>,
    e.payload as Record<string, unknown>,
  );
  if (diff.length > 0) return refuse(state, e, 'auction-mismatch', diff.join('; '));
  state.auctions.set(key, r);
  state.pending = plan.matches;
  return { applied: true };
}

function proposalOf(state: MarketFoldState, m: MarketMatch, matchIndex: number): MarketProposal {
  state.contracts.set(m.contractId, { matchIndex, offer: m.offer, bid: m.bid });
  return {
    id: m.contractId,
    contract: m.contract,
    offerIndex: (state.orderByHash.get(m.offer) as LedgerOrder).index,
    bidIndex: (state.orderByHash.get(m.bid) as LedgerOrder).index,
    matchIndex,
  };
}

function applyMarketMatch(state: MarketFoldState, e: MarketLogEntry, config: MarketFoldConfig): MarketApply {
  if (!config.hubKids.includes(e.kid)) return refuse(state, e, 'not-the-hub', `${e.kid} is not the hub`);
  const parsed = parseMarketMatch(e.payload);
  if (!parsed.ok)
    return refuse(state, e, 'schema', parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  const m = parsed.value;
  const got = e.payload as Record<string, unknown>;
  if (m.contractId !== marketContractId(m.contract))
    return refuse(state, e, 'contract-id-mismatch', `contractId is not the hash of the contract's payload`);
  if (state.contracts.has(m.contractId))
    return refuse(state, e, 'duplicate-match', `${m.contractId} is already in the log`);
  if (m.mode !== config.rules.mode)
    return refuse(state, e, 'wrong-mode', `the market runs in ${config.rules.mode} mode`);
  if (m.mode === 'auction') {
    const next = state.pending[0];
    if (next === undefined)
      return refuse(state, e, 'no-pending-auction', 'no auction result owes this match');
    const diff = differences(next as unknown as Record<string, unknown>, got);
    if (diff.length > 0) return refuse(state, e, 'match-mismatch', diff.join('; '));
    state.pending.shift();
    return { applied: true, proposal: proposalOf(state, m, e.index) };
  }
  const offer = state.orderByHash.get(m.offer);
  if (offer === undefined) return refuse(state, e, 'unknown-order', `offer ${m.offer} is not in the log`);
  const key = bookKeyOf(offer.order);
  const interval = m.contract.window;
  const bookKey = bookAt(key, interval.start);
  const plan = planContinuous(state.orders, key, interval, e.index - 1, config.rules);
  const k = state.continuousCount.get(bookKey) ?? 0;
  const expected = plan.matches[k];
  if (expected === undefined)
    return refuse(
      state,
      e,
      'match-mismatch',
      `the book ${bookKey} has no further trade up to entry ${e.index}`,
    );
  const diff = differences(expected as unknown as Record<string, unknown>, got);
  if (diff.length > 0) return refuse(state, e, 'match-mismatch', diff.join('; '));
  state.continuousCount.set(bookKey, k + 1);
  return { applied: true, proposal: proposalOf(state, m, e.index) };
}
