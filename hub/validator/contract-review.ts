// Contract review (legality): a proposed contract checked against the policy and the state folded
// so far. Pure, so `verify` recomputes every contract-review decision, and a stop decision whose
// reasons are rule codes is checked by running the standing rules again. Each rule has a code;
// docs/validator.md lists them with their messages.
import type { Contract, FlexibilityContract, Reason } from '../../protocol/messages/index.js';
import type { ContractRecord, LedgerState } from '../contracts/fold.js';
import { contractedWhOf } from '../contracts/settlement.js';
import { isApproved, ownerOfGateway } from '../participants/registry.js';
import type { ValidatorPolicy } from './policy.js';
import type { ReviewOutcome } from './registration-review.js';

export const CONTRACT_RULE_CODES = [
  'currency-mismatch',
  'self-dealing',
  'party-not-registered',
  'delivery-point-not-party',
  'energy-not-allowed',
  'capacity-exceeded',
  'price-not-regulated',
  'price-below-floor',
  'price-above-cap',
  'deposit-below-penalty',
  'deposit-below-payment',
  'window-not-future',
  'window-not-aligned',
  'lead-time-too-short',
  'period-not-allowed',
  'window-too-long',
  'dispute-window-too-short',
] as const;
export type ContractRuleCode = (typeof CONTRACT_RULE_CODES)[number];

/** Rules about the moment of review; a stop (of a contract already running) does not re-run them. */
const TIMING_CODES: readonly ContractRuleCode[] = ['window-not-future', 'lead-time-too-short'];

/** ceil(wh × minorPerKWh / 1000): the most a quantity can cost, exactly. */
function maxCost(wh: number, minorPerKWh: number): bigint {
  return (BigInt(wh) * BigInt(minorPerKWh) + 999n) / 1000n;
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
const MS_PER_HOUR = 3_600_000n;

/** A contract's committed average power over its window, as Wh / ms (a fraction). */
function powerOf(c: Contract): { wh: bigint; ms: bigint; start: number; end: number } | undefined {
  if (c.product !== 'energy') return undefined;
  return c.quantity.per === 'interval'
    ? {
        wh: BigInt(c.quantity.wh),
        ms: BigInt(c.settlementPeriodMs),
        start: c.window.start,
        end: c.window.end,
      }
    : {
        wh: BigInt(c.quantity.wh),
        ms: BigInt(c.window.end - c.window.start),
        start: c.window.start,
        end: c.window.end,
      };
}

/** The larger of a flexibility contract's powers, W. */
const flexPowerW = (c: FlexibilityContract): number => Math.max(c.maxChargeW, c.maxDischargeW);

/** The most energy a flexibility contract can call for: its larger power over the whole window, Wh (up). */
export function flexibilityMaxWh(c: FlexibilityContract): bigint {
  return (BigInt(flexPowerW(c)) * BigInt(c.window.end - c.window.start) + 3_599_999n) / 3_600_000n;
}

/** Availability payment at a price: floor(W × minor per MW·h × ms / 3.6e12), as the market computes it. */
function availabilityAt(c: FlexibilityContract, minorPerMWh: number): bigint {
  return (
    (BigInt(flexPowerW(c)) * BigInt(minorPerMWh) * BigInt(c.window.end - c.window.start)) / 3_600_000_000_000n
  );
}

/** Statuses of a seller's other contracts whose quantities hold its capacity. */
const HOLDING: readonly ContractRecord['status'][] = ['approved', 'active', 'delivering', 'stopping'];

/**
 * The seller's highest committed average power (W, as an exact fraction num/den) over `c`'s window
 * when `c` is added to its other holding contracts, and when it peaks.
 */
export function peakCommittedPower(
  c: Contract,
  state: LedgerState,
  excludeId?: string,
): { num: bigint; den: bigint; at: number } | undefined {
  const own = powerOf(c);
  if (own === undefined) return undefined;
  const others = Object.values(state.contracts)
    .filter((r) => r.id !== excludeId && r.contract.seller === c.seller && HOLDING.includes(r.status))
    .map((r) => {
      const p = powerOf(r.contract);
      if (p === undefined) return undefined;
      const end = r.status === 'stopping' && r.stop !== null ? r.stop.endsAt : p.end;
      return { ...p, end };
    })
    .filter((p): p is NonNullable<typeof p> => p !== undefined && p.start < own.end && own.start < p.end);
  const instants = [own.start, ...others.map((o) => o.start).filter((t) => t > own.start && t < own.end)];
  let best: { num: bigint; den: bigint; at: number } | undefined;
  for (const t of instants) {
    const active = [own, ...others.filter((o) => o.start <= t && t < o.end)];
    let den = 1n;
    for (const a of active) den = (den / gcd(den, a.ms)) * a.ms;
    let num = 0n;
    for (const a of active) num += a.wh * MS_PER_HOUR * (den / a.ms);
    if (best === undefined || num * best.den > best.num * den) best = { num, den, at: t };
  }
  return best;
}

/**
 * The seller's highest flexibility power (W) over `c`'s window, per direction, when `c` is added to
 * its other holding flexibility contracts: the battery must be able to give all of it at once.
 */
export function peakFlexibilityPower(
  c: FlexibilityContract,
  state: LedgerState,
  excludeId?: string,
): { dischargeW: number; chargeW: number } {
  const others = Object.values(state.contracts)
    .filter(
      (r) =>
        r.id !== excludeId &&
        r.contract.seller === c.seller &&
        r.contract.product === 'flexibility' &&
        HOLDING.includes(r.status),
    )
    .map((r) => {
      const end = r.status === 'stopping' && r.stop !== null ? r.stop.endsAt : r.contract.window.end;
      return { c: r.contract as FlexibilityContract, start: r.contract.window.start, end };
    })
    .filter((o) => o.start < c.window.end && c.window.start < o.end);
  const instants = [
    c.window.start,
    ...others.map((o) => o.start).filter((t) => t > c.window.start && t < c.window.end),
  ];
  let dischargeW = 0;
  let chargeW = 0;
  for (const t of instants) {
    const active = others.filter((o) => o.start <= t && t < o.end).map((o) => o.c);
    dischargeW = Math.max(
      dischargeW,
      active.reduce((w, a) => w + a.maxDischargeW, c.maxDischargeW),
    );
    chargeW = Math.max(
      chargeW,
      active.reduce((w, a) => w + a.maxChargeW, c.maxChargeW),
    );
  }
  return { dischargeW, chargeW };
}

/** The holding contracts of both products, and their sums, at the instant the connection peaks. */
export interface CombinedPeak {
  /** Energy contracts' average power, W, as an exact fraction num/den. */
  energy: { num: bigint; den: bigint };
  /** The most flexibility power that can be called for at once: max(Σ discharge, Σ charge), W. */
  flexibilityW: number;
  /** energy + flexibilityW, as an exact fraction num/den. */
  num: bigint;
  den: bigint;
  at: number;
  /** The contracts in force at `at` besides `c`, by product, ids sorted. */
  energyIds: string[];
  flexibilityIds: string[];
}

/**
 * The seller's highest combined power (W) over `c`'s window when `c` is added to its other holding
 * contracts of both products: energy contracts at their committed average power (as
 * peakCommittedPower counts it) plus the most flexibility power that can be called for at once
 * (as peakFlexibilityPower counts it, the larger direction). The sums change only at a contract's
 * start or end, so the peak is at `c`'s start or at another contract's start inside its window.
 */
export function peakCombinedPower(c: Contract, state: LedgerState, excludeId?: string): CombinedPeak {
  interface Held {
    id: string | undefined;
    c: Contract;
    start: number;
    end: number;
  }
  const own: Held = { id: undefined, c, start: c.window.start, end: c.window.end };
  const others: Held[] = Object.values(state.contracts)
    .filter((r) => r.id !== excludeId && r.contract.seller === c.seller && HOLDING.includes(r.status))
    .map((r) => ({
      id: r.id,
      c: r.contract,
      start: r.contract.window.start,
      end: r.status === 'stopping' && r.stop !== null ? r.stop.endsAt : r.contract.window.end,
    }))
    .filter((o) => o.start < own.end && own.start < o.end);
  const instants = [own.start, ...others.map((o) => o.start).filter((t) => t > own.start && t < own.end)];
  let best: CombinedPeak | undefined;
  for (const t of instants) {
    const active = [own, ...others.filter((o) => o.start <= t && t < o.end)];
    const energy = active.map((a) => powerOf(a.c)).filter((p) => p !== undefined);
    let den = 1n;
    for (const e of energy) den = (den / gcd(den, e.ms)) * e.ms;
    let energyNum = 0n;
    for (const e of energy) energyNum += e.wh * MS_PER_HOUR * (den / e.ms);
    let dischargeW = 0;
    let chargeW = 0;
    for (const a of active)
      if (a.c.product === 'flexibility') {
        dischargeW += a.c.maxDischargeW;
        chargeW += a.c.maxChargeW;
      }
    const flexibilityW = Math.max(dischargeW, chargeW);
    const num = energyNum + BigInt(flexibilityW) * den;
    if (best === undefined || num * best.den > best.num * den) {
      const idsOf = (product: Contract['product']) =>
        active
          .filter((a) => a !== own && a.c.product === product)
          .map((a) => a.id as string)
          .sort();
      best = {
        energy: { num: energyNum, den },
        flexibilityW,
        num,
        den,
        at: t,
        energyIds: idsOf('energy'),
        flexibilityIds: idsOf('flexibility'),
      };
    }
  }
  return best as CombinedPeak;
}

/** A power fraction in W for a message: whole, or with up to three decimals (rounded down). */
function wattsText(num: bigint, den: bigint): string {
  const whole = num / den;
  const milli = ((num % den) * 1000n) / den;
  return milli === 0n ? `${whole}` : `${whole}.${milli.toString().padStart(3, '0').replace(/0+$/, '')}`;
}

export interface ContractReviewOptions {
  /** The ledger's currency. */
  currency: string;
  /** "standing": only the rules that hold for the contract's whole life (used to check a stop). */
  mode?: 'review' | 'standing';
  /** The contract's own id, so its own holding does not count twice against the seller's capacity. */
  contractId?: string;
}

/** Every failing rule as a reason (empty = legal). */
export function contractRuleFailures(
  c: Contract,
  state: LedgerState,
  at: number,
  policy: ValidatorPolicy,
  opts: ContractReviewOptions,
): Reason[] {
  const reasons: Reason[] = [];
  const add = (code: ContractRuleCode, message: string) => {
    if (opts.mode === 'standing' && TIMING_CODES.includes(code)) return;
    reasons.push({ code, message });
  };
  const reg = state.registry;
  const rules = policy.contracts;

  if (c.currency !== opts.currency)
    add('currency-mismatch', `the ledger keeps ${opts.currency}, not ${c.currency}`);
  if (c.seller === c.buyer) add('self-dealing', 'the seller and the buyer are the same participant');
  else {
    const sellerPoints = new Set(c.deliveryPoints.seller.map((p) => `${p.gw}/${p.meter}`));
    const shared = c.deliveryPoints.buyer.find((p) => sellerPoints.has(`${p.gw}/${p.meter}`));
    if (shared !== undefined)
      add(
        'self-dealing',
        `${shared.gw}/${shared.meter} is a delivery point of both the seller and the buyer`,
      );
  }

  for (const side of ['seller', 'buyer'] as const) {
    const party = c[side];
    if (!isApproved(reg, party)) {
      add('party-not-registered', `the ${side} ${party} is not a registered participant`);
      continue;
    }
    for (const dp of c.deliveryPoints[side])
      if (ownerOfGateway(reg, dp.gw) !== party)
        add('delivery-point-not-party', `${dp.gw} is not a gateway registered to the ${side} ${party}`);
  }

  const seller = reg.participants[c.seller];
  if (seller !== undefined) {
    const roleRule = policy.registration.roles[seller.role];
    if (!seller.energies.includes(c.energy))
      add('energy-not-allowed', `the seller is not registered to trade ${c.energy}`);
    else if (roleRule?.energies[c.energy] === undefined)
      add('energy-not-allowed', `the policy does not let a ${seller.role} sell ${c.energy}`);
    const peak = peakCommittedPower(c, state, opts.contractId);
    if (peak !== undefined && peak.num > BigInt(seller.capacityW) * peak.den) {
      const w = peak.num / peak.den;
      add(
        'capacity-exceeded',
        `with its other contracts the seller would deliver ${w} W on average from ${new Date(peak.at).toISOString()}, above its registered capacity of ${seller.capacityW} W`,
      );
    }
  }

  if (c.product === 'flexibility') flexibilityFailures(c, state, policy, opts, add);

  // With one product only, the combined sum is the per-product rule's own; it adds a reason only
  // where the products together exceed what each passes on its own.
  if (
    seller !== undefined &&
    policy.contracts.capacityAcrossProducts === true &&
    !reasons.some((r) => r.code === 'capacity-exceeded')
  ) {
    const peak = peakCombinedPower(c, state, opts.contractId);
    if (peak.num > BigInt(seller.capacityW) * peak.den) {
      const list = (ids: string[]) => (ids.length === 0 ? 'none' : ids.join(', '));
      add(
        'capacity-exceeded',
        `from ${new Date(peak.at).toISOString()} this ${c.product} contract with the seller's other contracts in force (energy: ${list(peak.energyIds)}; flexibility: ${list(peak.flexibilityIds)}) would need ${wattsText(peak.energy.num, peak.energy.den)} W of contracted energy on average plus ${peak.flexibilityW} W of flexibility that can be called for, ${wattsText(peak.num, peak.den)} W in all, above its registered capacity of ${seller.capacityW} W`,
      );
    }
  }

  if (c.product === 'energy') {
    const band = rules.prices[c.energy];
    if (band === undefined) add('price-not-regulated', `the policy sets no price band for ${c.energy}`);
    else if (c.priceMinorPerKWh < band.floorMinorPerKWh)
      add(
        'price-below-floor',
        `price ${c.priceMinorPerKWh}/kWh is below the regulated floor of ${band.floorMinorPerKWh}/kWh for ${c.energy}`,
      );
    else if (c.priceMinorPerKWh > band.capMinorPerKWh)
      add(
        'price-above-cap',
        `price ${c.priceMinorPerKWh}/kWh is above the regulated cap of ${band.capMinorPerKWh}/kWh for ${c.energy}`,
      );
    const wh = contractedWhOf(c);
    const penalty = maxCost(wh, c.penaltyMinorPerKWh);
    if (BigInt(c.deposits.seller) < penalty)
      add(
        'deposit-below-penalty',
        `the seller's deposit ${c.deposits.seller} does not cover the penalty on the full ${wh} Wh (${penalty})`,
      );
    const payment = maxCost(wh, c.priceMinorPerKWh);
    if (rules.buyerDepositCoversPayment && BigInt(c.deposits.buyer) < payment)
      add(
        'deposit-below-payment',
        `the buyer's deposit ${c.deposits.buyer} does not cover payment for the full ${wh} Wh (${payment})`,
      );
  }

  if (at >= c.window.start) add('window-not-future', 'the delivery window must start after the review');
  else if (c.window.start - at < rules.leadTimeMs)
    add(
      'lead-time-too-short',
      `the window starts ${c.window.start - at} ms after the review; the policy needs at least ${rules.leadTimeMs} ms`,
    );
  if (c.window.start % c.settlementPeriodMs !== 0 || c.window.end % c.settlementPeriodMs !== 0)
    add(
      'window-not-aligned',
      `the window [${c.window.start}, ${c.window.end}) is not aligned to its ${c.settlementPeriodMs} ms settlement period`,
    );
  if (!rules.settlementPeriodsMs.includes(c.settlementPeriodMs))
    add(
      'period-not-allowed',
      `settlement period ${c.settlementPeriodMs} ms is not allowed; allowed: ${rules.settlementPeriodsMs.join(', ')} ms`,
    );
  if (rules.maxWindowMs !== undefined && c.window.end - c.window.start > rules.maxWindowMs)
    add(
      'window-too-long',
      `the window is ${c.window.end - c.window.start} ms long; the policy allows at most ${rules.maxWindowMs} ms`,
    );
  if (c.disputeWindowMs < rules.minDisputeWindowMs)
    add(
      'dispute-window-too-short',
      `the dispute window is ${c.disputeWindowMs} ms; the policy needs at least ${rules.minDisputeWindowMs} ms`,
    );
  return reasons;
}

/** The flexibility rules: the seller's storage power, the price bounds, the deposits. */
function flexibilityFailures(
  c: FlexibilityContract,
  state: LedgerState,
  policy: ValidatorPolicy,
  opts: ContractReviewOptions,
  add: (code: ContractRuleCode, message: string) => void,
): void {
  const seller = state.registry.participants[c.seller];
  if (seller !== undefined) {
    // A flexibility seller's registered capacity is the power its storage can give or take.
    const peak = peakFlexibilityPower(c, state, opts.contractId);
    for (const [dir, w] of [
      ['discharge', peak.dischargeW],
      ['charge', peak.chargeW],
    ] as const)
      if (w > seller.capacityW)
        add(
          'capacity-exceeded',
          `with its other flexibility contracts the seller could be called for ${w} W of ${dir}, above its registered capacity of ${seller.capacityW} W`,
        );
  }
  const bounds = policy.contracts.flexibility;
  const response = bounds?.response;
  if (response !== undefined) {
    if (c.responseMinorPerKWh < response.floorMinorPerKWh)
      add(
        'price-below-floor',
        `response price ${c.responseMinorPerKWh}/kWh is below the floor of ${response.floorMinorPerKWh}/kWh`,
      );
    else if (c.responseMinorPerKWh > response.capMinorPerKWh)
      add(
        'price-above-cap',
        `response price ${c.responseMinorPerKWh}/kWh is above the cap of ${response.capMinorPerKWh}/kWh`,
      );
  }
  const availability = bounds?.availability;
  if (availability !== undefined) {
    const least = availabilityAt(c, availability.floorMinorPerMWh);
    const most = availabilityAt(c, availability.capMinorPerMWh);
    if (BigInt(c.availabilityMinor) < least)
      add(
        'price-below-floor',
        `availability ${c.availabilityMinor} is below the floor of ${availability.floorMinorPerMWh} per MW·h (${least} for ${flexPowerW(c)} W over the window)`,
      );
    else if (BigInt(c.availabilityMinor) > most)
      add(
        'price-above-cap',
        `availability ${c.availabilityMinor} is above the cap of ${availability.capMinorPerMWh} per MW·h (${most} for ${flexPowerW(c)} W over the window)`,
      );
  }
  const wh = flexibilityMaxWh(c);
  const penalty = (wh * BigInt(c.penaltyMinorPerKWh) + 999n) / 1000n;
  if (BigInt(c.deposits.seller) < penalty)
    add(
      'deposit-below-penalty',
      `the seller's deposit ${c.deposits.seller} does not cover the penalty on the most energy that can be called for, ${wh} Wh (${penalty})`,
    );
  const payment = BigInt(c.availabilityMinor) + (wh * BigInt(c.responseMinorPerKWh) + 999n) / 1000n;
  if (policy.contracts.buyerDepositCoversPayment && BigInt(c.deposits.buyer) < payment)
    add(
      'deposit-below-payment',
      `the buyer's deposit ${c.deposits.buyer} does not cover availability and response on ${wh} Wh (${payment})`,
    );
}

/** Reviews a proposed contract: refused with every failing rule, queued for a person, or approved. */
export function reviewContractLegality(
  c: Contract,
  state: LedgerState,
  at: number,
  policy: ValidatorPolicy,
  opts: ContractReviewOptions,
): ReviewOutcome {
  const reasons = contractRuleFailures(c, state, at, policy, { ...opts, mode: 'review' });
  if (reasons.length > 0) return { outcome: 'refused', reasons };
  const limit = policy.contracts.humanReviewAboveWh;
  if (c.product === 'energy' && limit !== undefined && contractedWhOf(c) > limit)
    return {
      outcome: 'queued',
      reasons: [
        {
          code: 'human-review-quantity',
          message: `${contractedWhOf(c)} Wh over the window is above ${limit} Wh: a person decides`,
        },
      ],
    };
  return { outcome: 'approved', reasons: [] };
}
