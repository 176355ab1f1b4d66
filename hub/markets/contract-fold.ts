// The contracts fold's part of the market (hub/contracts/fold.ts hooks these in): orders are
// recorded as they arrive, a hub-signed market match creates its contract as `proposed`, authorised
// by the two signed orders instead of the parties' signatures, and flexibility contracts collect
// the hub's dispatch commands and the gateways' answers, and settle by the flexibility rules.
//
// The checks here need no market rules, so every reader of the log (the engine, `verify`, the
// dashboard) applies them: the contract must follow from the two orders (parties, book, window,
// delivery points, nonce, quantity within what the orders still stand for, price within both
// limits, made while both orders stood). The market fold (./fold.ts), which holds the rules,
// additionally recomputes the clearing itself. docs/markets.md, "From match to contract".
import { canonicalJson } from '../../protocol/index.js';
import {
  type Contract,
  type DispatchCommand,
  type FlexibilityContract,
  type Order,
  orderLimit,
  orderQuantity,
  parseDispatchCommand,
  parseDispatchResponse,
  parseOrder,
} from '../../protocol/messages/index.js';
import type { ContractRecord, LedgerState, LogEntry } from '../contracts/fold.js';
import { countProofs } from '../contracts/proof-rules.js';
import type { SettlementComputation } from '../contracts/settlement.js';
import { proofsHashOf } from '../contracts/settlement.js';
import { availabilityMinorOf, marketContractId, matchNonce } from './contracts.js';
import { type DispatchRecord, measuredFromProofs, settleFlexibility } from './flexibility.js';
import { parseMarketMatch } from './messages.js';

/** An order as the contracts fold keeps it: what it still stands for, per interval. */
export interface OrderRecord {
  index: number;
  order: Order;
  /** Contracted quantity per interval start (Wh or W), from the market matches that used it. */
  filled: Record<string, number>;
}

/** What authorises a market-made contract: its match entry and the two orders. */
export interface MarketAuthorisation {
  /** Message hash and ledger index of the hub's market-match entry. */
  match: string;
  matchIndex: number;
  /** Message hashes of the offer (the seller's order) and the bid (the buyer's). */
  offer: string;
  bid: string;
}

export type FoldVerdict =
  | { ok: true; contract?: string }
  | { ok: false; code: string; message: string; contract?: string };

const no = (code: string, message: string, contract?: string): FoldVerdict =>
  contract === undefined ? { ok: false, code, message } : { ok: false, code, message, contract };

const issuesText = (issues: { path: string; message: string }[]) =>
  issues.map((i) => `${i.path === '' ? '(payload)' : i.path}: ${i.message}`).join('; ');

/** Records a participant-signed order (the same checks as the market fold's). */
export function recordOrder(orders: Record<string, OrderRecord>, e: LogEntry): FoldVerdict {
  const p = parseOrder(e.payload);
  if (!p.ok) return no('schema', `not a valid order: ${issuesText(p.issues)}`);
  if (p.value.participant !== e.kid)
    return no('signer-not-participant', `signed by ${e.kid}, not ${p.value.participant}`);
  if (Object.hasOwn(orders, e.messageHash)) return no('duplicate-order', 'this order is already in the log');
  orders[e.messageHash] = { index: e.index, order: p.value, filled: {} };
  return { ok: true };
}

/** The contract fields that follow from the two orders alone (docs/markets.md, the table). */
function expectedFromOrders(offer: Order, bid: Order, offerHash: string, bidHash: string, c: Contract) {
  return {
    product: offer.product,
    seller: offer.participant,
    buyer: bid.participant,
    energy: offer.energy,
    currency: offer.currency,
    settlementPeriodMs: offer.settlementPeriodMs,
    region: offer.region,
    deliveryPoints: { seller: offer.deliveryPoints, buyer: bid.deliveryPoints },
    nonce: matchNonce(offerHash, bidHash, c.window),
  };
}

/**
 * A market-match entry's contract record, or why the entry does not authorise one. The caller
 * (the contracts fold) checked the hub's kid; this checks the rest and changes nothing.
 */
export function marketContractOf(
  state: LedgerState,
  e: LogEntry,
): { ok: true; record: ContractRecord; quantity: number } | (FoldVerdict & { ok: false }) {
  const p = parseMarketMatch(e.payload);
  if (!p.ok)
    return { ok: false, code: 'schema', message: `not a valid market match: ${issuesText(p.issues)}` };
  const m = p.value;
  const c = m.contract;
  const id = marketContractId(c);
  if (m.contractId !== id)
    return {
      ok: false,
      code: 'contract-id-mismatch',
      message: `contractId is not ${id}, the contract's hash`,
    };
  if (Object.hasOwn(state.contracts, id))
    return { ok: false, code: 'duplicate-contract', message: `${id} is in the log already`, contract: id };
  const offer = Object.hasOwn(state.orders, m.offer) ? state.orders[m.offer] : undefined;
  const bid = Object.hasOwn(state.orders, m.bid) ? state.orders[m.bid] : undefined;
  if (offer === undefined || bid === undefined)
    return {
      ok: false,
      code: 'unknown-order',
      message: `the ${offer === undefined ? `offer ${m.offer}` : `bid ${m.bid}`} is not an order in the log`,
      contract: id,
    };
  const o = offer.order;
  const b = bid.order;
  const refuse = (code: string, message: string) => ({ ok: false as const, code, message, contract: id });
  if (o.side !== 'offer' || b.side !== 'bid')
    return refuse('order-side', 'the match must name an offer (the seller) and a bid (the buyer)');
  if (o.participant === b.participant)
    return refuse('self-match', 'a participant matched with itself makes no contract');
  if (o.product !== b.product || o.region !== b.region || o.energy !== b.energy)
    return refuse('order-terms', 'the two orders are not of one book');
  if (o.product === 'flexibility' && b.product === 'flexibility' && o.direction !== b.direction)
    return refuse('order-terms', 'the two orders are not of one book (direction)');
  const expected = expectedFromOrders(o, b, m.offer, m.bid, c) as Record<string, unknown>;
  const got = c as unknown as Record<string, unknown>;
  const differs = Object.keys(expected).filter((k) => canonicalJson(expected[k]) !== canonicalJson(got[k]));
  if (differs.length > 0)
    return refuse(
      'order-terms',
      `the contract does not follow from the orders: ${differs
        .map((k) => `${k} is ${canonicalJson(got[k])}, the orders give ${canonicalJson(expected[k])}`)
        .join('; ')}`,
    );
  const w = c.window;
  if (w.end - w.start !== o.settlementPeriodMs)
    return refuse('order-terms', 'a market contract is for one settlement interval');
  for (const [side, x] of [
    ['offer', o],
    ['bid', b],
  ] as const) {
    if (w.start < x.window.start || w.end > x.window.end)
      return refuse('order-terms', `the interval lies outside the ${side}'s window`);
    if (c.createdAt < x.createdAt || c.createdAt >= x.expires)
      return refuse(
        'order-not-standing',
        `the contract is made at ${c.createdAt}; the ${side} stood from ${x.createdAt} until ${x.expires}`,
      );
  }
  if (m.priceMinor < orderLimit(o) || m.priceMinor > orderLimit(b))
    return refuse(
      'price-outside-limits',
      `price ${m.priceMinor} is not within the offer's limit ${orderLimit(o)} and the bid's ${orderLimit(b)}`,
    );
  if (c.product === 'energy') {
    if (c.quantity.per !== 'window' || c.quantity.wh !== m.quantity || c.priceMinorPerKWh !== m.priceMinor)
      return refuse('order-terms', "the contract quantity and price must be the match's, per window");
  } else {
    const dir = (o as Extract<Order, { product: 'flexibility' }>).direction;
    const wantDis = dir === 'discharge' ? m.quantity : 0;
    const wantCh = dir === 'charge' ? m.quantity : 0;
    const avail = availabilityMinorOf(m.quantity, m.priceMinor, w.end - w.start);
    if (c.maxDischargeW !== wantDis || c.maxChargeW !== wantCh || c.availabilityMinor !== avail)
      return refuse(
        'order-terms',
        `the contract's power and availability must follow from the match (${wantDis} W discharge, ${wantCh} W charge, availability ${avail})`,
      );
  }
  const slot = String(w.start);
  for (const [side, r] of [
    ['offer', offer],
    ['bid', bid],
  ] as const) {
    const left = orderQuantity(r.order) - (r.filled[slot] ?? 0);
    if (m.quantity > left)
      return refuse(
        'quantity-above-order',
        `the ${side} stands for ${left} more in this interval, not ${m.quantity}`,
      );
  }
  const record: ContractRecord = {
    id,
    contract: c,
    status: 'proposed',
    signatures: { seller: offer.index, buyer: bid.index },
    review: null,
    activation: null,
    escrow: { seller: 0, buyer: 0 },
    cancellations: { seller: null, buyer: null },
    proofs: [],
    fulfilments: [],
    settlement: null,
    closed: null,
    stop: null,
    disputes: [],
    refunds: { sellerToBuyer: 0, buyerToSeller: 0 },
    entryHashes: [m.offer, m.bid, e.messageHash],
    history: [{ index: e.index, status: 'proposed' }],
    market: { match: e.messageHash, matchIndex: e.index, offer: m.offer, bid: m.bid },
    ...(c.product === 'flexibility' ? { dispatches: [] } : {}),
  };
  return { ok: true, record, quantity: m.quantity };
}

/** Takes the match's quantity off both orders (after the record entered the state). */
export function fillOrders(state: LedgerState, rec: ContractRecord, quantity: number): void {
  const slot = String(rec.contract.window.start);
  for (const h of [rec.market?.offer, rec.market?.bid]) {
    const r = h === undefined ? undefined : state.orders[h];
    if (r) r.filled[slot] = (r.filled[slot] ?? 0) + quantity;
  }
}

// ---------------------------------------------------------------------------------------------
// Flexibility: dispatch commands and responses

const DISPATCHABLE = ['active', 'delivering'];

/** A hub-signed dispatch command (the caller checked the hub's kid): recorded on its contract. */
export function recordDispatchCommand(state: LedgerState, e: LogEntry): FoldVerdict {
  const p = parseDispatchCommand(e.payload);
  if (!p.ok) return no('schema', `not a valid dispatch command: ${issuesText(p.issues)}`);
  const cmd: DispatchCommand = p.value;
  const rec = Object.hasOwn(state.contracts, cmd.contract) ? state.contracts[cmd.contract] : undefined;
  if (rec === undefined) return no('unknown-contract', `no contract ${cmd.contract} in the log`);
  if (rec.contract.product !== 'flexibility')
    return no('product-mismatch', 'a dispatch command is for a flexibility contract', rec.id);
  if (!DISPATCHABLE.includes(rec.status))
    return no('not-active', `the contract is ${rec.status}; only an active one is dispatched`, rec.id);
  const list = rec.dispatches ?? [];
  list.push({ command: cmd, hash: e.messageHash, index: e.index, response: null });
  rec.dispatches = list;
  rec.entryHashes.push(e.messageHash);
  return { ok: true, contract: rec.id };
}

/** A gateway's dispatch response: the first answer to a recorded command stands. */
export function recordDispatchResponse(state: LedgerState, e: LogEntry): FoldVerdict {
  const p = parseDispatchResponse(e.payload);
  if (!p.ok) return no('schema', `not a valid dispatch response: ${issuesText(p.issues)}`);
  const r = p.value;
  if (r.gw !== e.kid) return no('kid-mismatch', `response for ${r.gw} signed by ${e.kid}`);
  const rec = Object.hasOwn(state.contracts, r.contract) ? state.contracts[r.contract] : undefined;
  if (rec === undefined) return no('unknown-contract', `no contract ${r.contract} in the log`);
  const d = rec.dispatches?.find((x) => x.hash === r.command);
  if (d === undefined)
    return no('unknown-command', `no dispatch command ${r.command} on the contract`, rec.id);
  if (d.command.gw !== e.kid)
    return no('kid-mismatch', `the command went to ${d.command.gw}; ${e.kid} answered`, rec.id);
  if (d.response !== null)
    return no('duplicate-response', `the command was answered already (${d.response})`, rec.id);
  if (rec.settlement !== null)
    return no('after-settlement', 'the contract is settled; a late answer changes nothing', rec.id);
  d.response = r.outcome;
  rec.entryHashes.push(e.messageHash);
  return { ok: true, contract: rec.id };
}

/**
 * A flexibility contract's settlement in the settlement entry's shape: contracted = called Wh,
 * seller export / buyer import = the seller's meters' counted export and import (discharge and
 * charge), payment = availability + response (buyer → seller, from its escrow first, then its
 * balance), penalty capped by the seller's escrow; outcome fulfilled when nothing was called.
 */
export function flexibilitySettlement(
  rec: ContractRecord,
  c: FlexibilityContract,
  buyerAvailable: number,
): SettlementComputation {
  const measured = measuredFromProofs(c, rec.proofs);
  const s = settleFlexibility(rec.id, c, (rec.dispatches ?? []) as DispatchRecord[], measured);
  const due = BigInt(s.availabilityMinor) + BigInt(s.responseMinor);
  const escrowBuyer = BigInt(rec.escrow.buyer);
  const escrowSeller = BigInt(rec.escrow.seller);
  const paid = due < escrowBuyer + BigInt(buyerAvailable) ? due : escrowBuyer + BigInt(buyerAvailable);
  const fromEscrow = paid < escrowBuyer ? paid : escrowBuyer;
  const penalty = BigInt(s.penaltyMinor) < escrowSeller ? BigInt(s.penaltyMinor) : escrowSeller;
  const sellerPoints = c.deliveryPoints.seller;
  const counted = rec.proofs.filter((q) => sellerPoints.some((d) => d.gw === q.gw && d.meter === q.meter));
  // The proofs that counted: those measuredFromProofs summed (the same rule, per direction).
  const countedHashes = countedProofHashes(c, counted);
  const sellerExportWh = measured.reduce((a, m) => a + m.exportWh, 0);
  const buyerImportWh = measured.reduce((a, m) => a + m.importWh, 0);
  return {
    result: {
      outcome: s.outcome === 'not-called' ? 'fulfilled' : s.outcome,
      contractedWh: s.calledWh,
      sellerExportWh,
      buyerImportWh,
      deliveredWh: s.deliveredWh,
      shortfallWh: s.shortfallWh,
      paymentMinor: Number(paid),
      penaltyMinor: Number(penalty),
      unpaidMinor: Number(due - paid),
      released: { seller: Number(escrowSeller - penalty), buyer: Number(escrowBuyer - fromEscrow) },
      proofCount: countedHashes.length,
      proofsHash: proofsHashOf(countedHashes),
    },
    intervals: s.intervals.map((iv, i) => ({
      start: iv.start,
      end: iv.end,
      sellerExportWh: measured[i]?.exportWh ?? 0,
      buyerImportWh: measured[i]?.importWh ?? 0,
      deliveredWh: iv.deliveredWh,
    })),
    seller: [],
    buyer: [],
    paymentFromEscrow: Number(fromEscrow),
    paymentFromAvailable: Number(paid - fromEscrow),
  };
}

function countedProofHashes(c: FlexibilityContract, proofs: ContractRecord['proofs']): string[] {
  const terms = { energy: c.energy, settlementPeriodMs: c.settlementPeriodMs, window: c.window };
  const out = new Set<string>();
  for (const side of ['export', 'import'] as const)
    for (const { proof, verdict } of countProofs(proofs, terms, side))
      if (verdict.counted) out.add(proof.hash);
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Orders as their participants see them

export interface OrderStatus {
  hash: string;
  index: number;
  order: Order;
  /**
   * `filled`: every interval of the window contracted in full; `expired`: its `expires` has passed
   * (an order takes part in no clearing at or after it: docs/markets.md, "Books and gate closure");
   * `open`: it may still trade.
   */
  status: 'open' | 'filled' | 'expired';
  /** Contracted quantity per interval start, from the market contracts made of it. */
  filled: Record<string, number>;
  /** The market-made contracts it authorised. */
  contracts: string[];
}

/** An order's standing at `now`, from the folded state; undefined when no such order is in the log. */
export function orderStatusOf(state: LedgerState, hash: string, now: number): OrderStatus | undefined {
  const r = Object.hasOwn(state.orders, hash) ? state.orders[hash] : undefined;
  if (r === undefined) return undefined;
  const o = r.order;
  const q = orderQuantity(o);
  let full = true;
  for (let s = o.window.start; s + o.settlementPeriodMs <= o.window.end; s += o.settlementPeriodMs)
    if ((r.filled[String(s)] ?? 0) < q) full = false;
  const contracts = Object.values(state.contracts)
    .filter((c) => c.market !== undefined && (c.market.offer === hash || c.market.bid === hash))
    .sort((a, b) => (a.market?.matchIndex ?? 0) - (b.market?.matchIndex ?? 0))
    .map((c) => c.id);
  return {
    hash,
    index: r.index,
    order: o,
    status: full ? 'filled' : now >= o.expires ? 'expired' : 'open',
    filled: { ...r.filled },
    contracts,
  };
}
