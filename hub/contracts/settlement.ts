// Settlement of an energy contract from the signed meter proofs in the ledger, never from a claim.
// Pure: the same contract, proofs and balances give the same result, so the fold can recompute
// what the hub signed and refuse a settlement entry that differs. docs/contracts.md, "Settlement".
import { b64url, sha256 } from '../../protocol/index.js';
import { type EnergyContract, fulfilmentOutcome } from '../../protocol/messages/index.js';
import type { SettlementPayload } from './messages.js';
import { type CountedProof, countedWh, countProofs, type ProofRecord, satAdd } from './proof-rules.js';

export interface IntervalResult {
  start: number;
  end: number;
  /** Counted export of the seller's delivery points, counted import of the buyer's, Wh. */
  sellerExportWh: number;
  buyerImportWh: number;
  /** min(sellerExportWh, buyerImportWh), and for per-interval quantities also ≤ the quantity. */
  deliveredWh: number;
}

export interface SettlementInput {
  contract: EnergyContract;
  /** Proofs of the contract's delivery points (either side), in log order. */
  proofs: readonly ProofRecord[];
  /** What each party has in escrow for this contract, minor units. */
  escrow: { seller: number; buyer: number };
  /** The buyer's available (not escrowed) balance, minor units. */
  buyerAvailable: number;
  /** Congestion adjustments of this contract (congestionAdjustmentsOf); none when absent. */
  adjustments?: readonly QuantityAdjustment[];
}

/**
 * A congestion decision's change to the contract in one congestion interval: the energy the
 * contract carried there (`fromWh`, as the congestion request counted it) and the energy it may
 * deliver there after the adjustment (`toWh`).
 */
export interface QuantityAdjustment {
  start: number;
  end: number;
  fromWh: number;
  toWh: number;
}

/** A congestion decision as the fold records it (CongestionRecord's fields used here). */
export interface CongestionAdjusting {
  interval: { start: number; end: number } | null;
  adjustments: readonly { contract: string; quantityWh: number }[];
}

/** ceil(a × b / c) exactly: the congestion request's share of a contract in an interval. */
function mulDivCeil(a: number, b: number, c: number): number {
  return Number((BigInt(a) * BigInt(b) + BigInt(c) - 1n) / BigInt(c));
}

/**
 * The adjustments a contract settles against: for each congestion interval, the latest congestion
 * decision for that interval rules (a later decision for the same interval replaces an earlier
 * one, adjusting or not). `fromWh` is the contract's energy in the interval as the congestion
 * request counts it (ceil(wh × overlap / period), or / window length for a per-window quantity).
 */
export function congestionAdjustmentsOf(
  decisions: readonly CongestionAdjusting[],
  contractId: string,
  contract: EnergyContract,
): QuantityAdjustment[] {
  const latest = new Map<string, CongestionAdjusting>();
  for (const d of decisions) if (d.interval !== null) latest.set(`${d.interval.start}/${d.interval.end}`, d);
  const out: QuantityAdjustment[] = [];
  const w = contract.window;
  const per = contract.quantity.per === 'interval' ? contract.settlementPeriodMs : w.end - w.start;
  for (const d of latest.values()) {
    const iv = d.interval as { start: number; end: number };
    const a = d.adjustments.find((x) => x.contract === contractId);
    if (a === undefined) continue;
    const overlap = Math.min(w.end, iv.end) - Math.max(w.start, iv.start);
    if (overlap <= 0) continue;
    out.push({
      start: iv.start,
      end: iv.end,
      fromWh: mulDivCeil(contract.quantity.wh, overlap, per),
      toWh: a.quantityWh,
    });
  }
  return out.sort((x, y) => x.start - y.start);
}

export interface SettlementComputation {
  result: Omit<SettlementPayload, 'contract' | 'at'>;
  intervals: IntervalResult[];
  /** Every proof considered, with whether it counted and why not. */
  seller: CountedProof[];
  buyer: CountedProof[];
  /** Of the payment: how much comes out of the buyer's escrow and how much from its balance. */
  paymentFromEscrow: number;
  paymentFromAvailable: number;
}

const isPoint = (points: readonly { gw: string; meter: string }[], p: ProofRecord) =>
  points.some((d) => d.gw === p.gw && d.meter === p.meter);

/** SHA-256 over the sorted base64url hashes joined by "\n", base64url. */
export function proofsHashOf(hashes: readonly string[]): string {
  return b64url.encode(sha256([...hashes].sort().join('\n')));
}

/** price × Wh / 1000, rounded down, exactly (BigInt), as a bigint. */
function priceOf(wh: number, minorPerKWh: number): bigint {
  return (BigInt(wh) * BigInt(minorPerKWh)) / 1000n;
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);
const toSafe = (n: bigint) => (n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));

/** The contract's total obligation over its window, Wh (saturating). */
export function contractedWhOf(contract: EnergyContract): number {
  if (contract.quantity.per === 'window') return contract.quantity.wh;
  const n = (contract.window.end - contract.window.start) / contract.settlementPeriodMs;
  return toSafe(BigInt(contract.quantity.wh) * BigInt(n));
}

/**
 * Settles an energy contract:
 *  - per settlement interval, seller = counted export of the seller's points, buyer = counted import
 *    of the buyer's points, matched = min(seller, buyer) (energy must be fed in and taken in the same
 *    interval);
 *  - quantity per interval: delivered = Σ min(matched_i, q); per window: delivered = min(Σ matched_i, q);
 *  - congestion adjustments (docs/validator.md, "Settlement after a congestion decision"): an
 *    interval's quantity q_i = q + Σ (toWh − fromWh) of the adjustments inside it (≥ 0), and the
 *    contracted energy is Σ q_i; per window, q = wh + Σ (toWh − fromWh) (≥ 0), and an interval that
 *    adjustments cover entirely delivers at most Σ toWh;
 *  - payment = floor(delivered × price / 1000), from the buyer's escrow first, then its balance; what
 *    neither covers is unpaid (a recorded debt, never a negative balance);
 *  - penalty = min(floor(shortfall × penalty / 1000), the seller's escrow), seller → buyer;
 *  - the rest of both escrows is released.
 */
export function computeSettlement(input: SettlementInput): SettlementComputation {
  const { contract } = input;
  const period = contract.settlementPeriodMs;
  const n = Math.max(0, Math.floor((contract.window.end - contract.window.start) / period));
  const terms = { energy: contract.energy, settlementPeriodMs: period, window: contract.window };

  const seller = countProofs(
    input.proofs.filter((p) => isPoint(contract.deliveryPoints.seller, p)),
    terms,
    'export',
  );
  const buyer = countProofs(
    input.proofs.filter((p) => isPoint(contract.deliveryPoints.buyer, p)),
    terms,
    'import',
  );

  const sellerSlots = new Map<number, number>();
  const buyerSlots = new Map<number, number>();
  for (const [counted, slots, side] of [
    [seller, sellerSlots, 'export'],
    [buyer, buyerSlots, 'import'],
  ] as const) {
    for (const c of counted)
      if (c.verdict.counted)
        slots.set(c.verdict.slot, satAdd(slots.get(c.verdict.slot) ?? 0, countedWh(c.proof, side)));
  }

  const q = contract.quantity.wh;
  const adjustments = input.adjustments ?? [];
  // Per settlement interval: the quantity change and, when adjustments cover it entirely, the cap.
  const change = new Map<number, number>();
  const cap = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const start = contract.window.start + i * period;
    const inside = adjustments.filter((a) => a.start >= start && a.end <= start + period);
    if (inside.length === 0) continue;
    change.set(
      i,
      inside.reduce((sum, a) => sum + a.toWh - a.fromWh, 0),
    );
    const covered = inside.reduce((sum, a) => sum + (a.end - a.start), 0);
    if (covered >= period)
      cap.set(
        i,
        inside.reduce((sum, a) => sum + a.toWh, 0),
      );
  }
  const intervals: IntervalResult[] = [];
  let adjustedContractedWh = 0;
  let sellerExportWh = 0;
  let buyerImportWh = 0;
  let matchedWh = 0;
  for (let i = 0; i < n; i++) {
    const start = contract.window.start + i * period;
    const s = sellerSlots.get(i) ?? 0;
    const b = buyerSlots.get(i) ?? 0;
    const matched = Math.min(s, b);
    const qi = Math.max(0, q + (change.get(i) ?? 0));
    adjustedContractedWh = satAdd(adjustedContractedWh, qi);
    const deliveredWh =
      contract.quantity.per === 'interval' ? Math.min(matched, qi) : Math.min(matched, cap.get(i) ?? matched);
    intervals.push({ start, end: start + period, sellerExportWh: s, buyerImportWh: b, deliveredWh });
    sellerExportWh = satAdd(sellerExportWh, s);
    buyerImportWh = satAdd(buyerImportWh, b);
    matchedWh = satAdd(matchedWh, deliveredWh);
  }

  const contractedWh =
    adjustments.length === 0
      ? contractedWhOf(contract)
      : contract.quantity.per === 'interval'
        ? adjustedContractedWh
        : Math.max(0, q + [...change.values()].reduce((a, b) => a + b, 0));
  const deliveredWh = Math.min(matchedWh, contractedWh);
  const shortfallWh = contractedWh - deliveredWh;

  const escrowBuyer = BigInt(input.escrow.buyer);
  const escrowSeller = BigInt(input.escrow.seller);
  const due = priceOf(deliveredWh, contract.priceMinorPerKWh);
  const paid = minBig(due, escrowBuyer + BigInt(input.buyerAvailable));
  const fromEscrow = minBig(paid, escrowBuyer);
  const penalty = minBig(priceOf(shortfallWh, contract.penaltyMinorPerKWh), escrowSeller);

  const countedHashes = [...seller, ...buyer].filter((c) => c.verdict.counted).map((c) => c.proof.hash);
  return {
    result: {
      outcome: fulfilmentOutcome(contractedWh, deliveredWh),
      contractedWh,
      sellerExportWh,
      buyerImportWh,
      deliveredWh,
      shortfallWh,
      paymentMinor: Number(paid),
      penaltyMinor: Number(penalty),
      unpaidMinor: toSafe(due - paid),
      released: { seller: Number(escrowSeller - penalty), buyer: Number(escrowBuyer - fromEscrow) },
      proofCount: countedHashes.length,
      proofsHash: proofsHashOf(countedHashes),
    },
    intervals,
    seller,
    buyer,
    paymentFromEscrow: Number(fromEscrow),
    paymentFromAvailable: Number(paid - fromEscrow),
  };
}
