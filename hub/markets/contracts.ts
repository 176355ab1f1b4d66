// Matches become contracts. A market-made contract has the same shape as a bilateral one
// (protocol/messages/contract.ts); what authorises it is not the parties' two signatures but the
// two signed orders it came from (their message hashes) and the hub-signed match entry that
// carries it. Every field follows from the orders, the match and the market rules, so the fold
// can rebuild the contract and compare it byte for byte (docs/markets.md, "From match to contract").
import { b64url, canonicalJson, sha256, utf8 } from '../../protocol/index.js';
import {
  type Contract,
  contractIdOf,
  contractPayloadSegment,
  type EnergyContract,
  type FlexibilityContract,
  type Interval,
} from '../../protocol/messages/index.js';
import type { LedgerOrder } from './book.js';
import type { MarketRules } from './rules.js';

/** ceil(a × b / d) for non-negative integers, exactly. */
export function ceilDiv(a: bigint, d: bigint): bigint {
  return (a + d - 1n) / d;
}

function safe(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} exceeds the safe integer range`);
  return Number(n);
}

/** ms per hour × W per MW: availability (minor per MW·h) × W × ms / this = minor units. */
const W_MS_PER_MW_H = 3_600_000n * 1_000_000n;

/** Availability payment: floor(W × price (minor per MW·h) × duration ms / 3.6e12). */
export function availabilityMinorOf(powerW: number, minorPerMWh: number, durationMs: number): number {
  return safe((BigInt(powerW) * BigInt(minorPerMWh) * BigInt(durationMs)) / W_MS_PER_MW_H, 'availability');
}

/** The most energy a power can move in a duration, Wh, rounded up. */
export function maxEnergyWhOf(powerW: number, durationMs: number): number {
  return safe(ceilDiv(BigInt(powerW) * BigInt(durationMs), 3_600_000n), 'energy');
}

/** The contract's nonce: base64url SHA-256 of both order hashes and the interval (43 characters). */
export function matchNonce(offerHash: string, bidHash: string, interval: Interval): string {
  return b64url.encode(
    sha256(`wattproof.match.v1\n${offerHash}\n${bidHash}\n${interval.start}\n${interval.end}`),
  );
}

export interface MatchTerms {
  offer: LedgerOrder;
  bid: LedgerOrder;
  interval: Interval;
  /** Wh (energy) or W (flexibility). */
  quantity: number;
  /** The trade price: minor per kWh (energy) or per MW·h of availability (flexibility). */
  price: number;
  /** When the match was made (gate closure for the auction; the market clock for continuous). */
  at: number;
}

/**
 * The contract of one match. Seller = the offer's participant, buyer = the bid's; window = the
 * interval; delivery points from each order; deposits just cover what the review rules ask
 * (the seller: the penalty for a full shortfall; the buyer: full payment). Throws when the
 * orders are not a pair of one book (the caller matched them, so that is a bug).
 */
export function contractFromMatch(t: MatchTerms, rules: MarketRules): Contract {
  const { offer, bid } = t;
  const o = offer.order;
  const b = bid.order;
  if (o.side !== 'offer' || b.side !== 'bid') throw new Error('contractFromMatch: needs an offer and a bid');
  if (o.product !== b.product || o.region !== b.region || o.energy !== b.energy)
    throw new Error('contractFromMatch: the orders are not of one book');
  const head = {
    seller: o.participant,
    buyer: b.participant,
    energy: o.energy,
    settlementPeriodMs: rules.settlementPeriodMs,
    window: { start: t.interval.start, end: t.interval.end },
    currency: rules.currency,
    deliveryPoints: { seller: o.deliveryPoints, buyer: b.deliveryPoints },
  };
  const tail = {
    disputeWindowMs: rules.disputeWindowMs,
    region: o.region,
    nonce: matchNonce(offer.hash, bid.hash, t.interval),
    createdAt: t.at,
  };
  if (o.product === 'energy') {
    const penalty = safe(ceilDiv(BigInt(t.price) * BigInt(rules.energyPenaltyPercent), 100n), 'penalty');
    const c: EnergyContract = {
      product: 'energy',
      ...head,
      deposits: {
        seller: safe(ceilDiv(BigInt(t.quantity) * BigInt(penalty), 1000n), 'seller deposit'),
        buyer: safe(ceilDiv(BigInt(t.quantity) * BigInt(t.price), 1000n), 'buyer deposit'),
      },
      ...tail,
      quantity: { wh: t.quantity, per: 'window' },
      priceMinorPerKWh: t.price,
      penaltyMinorPerKWh: penalty,
    };
    return c;
  }
  if (b.product !== 'flexibility') throw new Error('contractFromMatch: the orders are not of one book');
  if (o.direction !== b.direction) throw new Error('contractFromMatch: the orders are not of one book');
  const durationMs = t.interval.end - t.interval.start;
  const availabilityMinor = availabilityMinorOf(t.quantity, t.price, durationMs);
  const maxWh = BigInt(maxEnergyWhOf(t.quantity, durationMs));
  const { responseMinorPerKWh, penaltyMinorPerKWh } = rules.flexibility;
  const c: FlexibilityContract = {
    product: 'flexibility',
    ...head,
    deposits: {
      seller: safe(ceilDiv(maxWh * BigInt(penaltyMinorPerKWh), 1000n), 'seller deposit'),
      buyer: safe(
        BigInt(availabilityMinor) + ceilDiv(maxWh * BigInt(responseMinorPerKWh), 1000n),
        'buyer deposit',
      ),
    },
    ...tail,
    maxDischargeW: o.direction === 'discharge' ? t.quantity : 0,
    maxChargeW: o.direction === 'charge' ? t.quantity : 0,
    availabilityMinor,
    responseMinorPerKWh,
    penaltyMinorPerKWh,
  };
  return c;
}

/** The id a contract gets: "ct-" + base64url SHA-256 of its payload bytes (JSON.stringify once). */
export function marketContractId(c: Contract): string {
  return contractIdOf(contractPayloadSegment(c));
}

/** The contract's payload bytes, as the id is computed over them. */
export function contractBytes(c: Contract): Uint8Array {
  return utf8(canonicalJson(c));
}
