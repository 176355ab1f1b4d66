// Settlement of a flexibility contract: availability over the window, delivered response energy,
// and a penalty for response called for and not delivered. Pure and integer-only; measured energy
// comes from the signed meter proofs of the seller's delivery points (the battery's own meter),
// never from the gateway's dispatch response, which only tells whether the seller answered.
// docs/markets.md, "Flexibility settlement", states the rules and works an example.
import type { DispatchCommand, FlexibilityContract } from '../../protocol/messages/index.js';
import { intervalsOf } from '../../protocol/units.js';
import { countedWh, countProofs, type ProofRecord, satAdd } from '../contracts/proof-rules.js';

/** A dispatch command for the contract as the ledger holds it, with the seller's answer if any. */
export interface DispatchRecord {
  command: DispatchCommand;
  /** base64url message hash of the command's compact JWS. */
  hash: string;
  /** Ledger index of the command. */
  index: number;
  /** The gateway's signed dispatch response: applied, refused, or none by settlement time. */
  response: 'applied' | 'refused' | null;
}

/** Counted energy of the seller's delivery points in one settlement interval, Wh. */
export interface IntervalMeasure {
  start: number;
  exportWh: number;
  importWh: number;
}

export type VoidReason = 'other-contract' | 'not-a-delivery-point' | 'outside-window' | 'above-max-power';

export interface FlexIntervalResult {
  start: number;
  end: number;
  /** Energy called for, by direction, Wh: floor(Σ W·ms of the effective setpoint / 3 600 000). */
  calledDischargeWh: number;
  calledChargeWh: number;
  /** min(called discharge, measured export) + min(called charge, measured import). */
  deliveredWh: number;
  /** A call overlapping the interval was refused or never answered. */
  unavailable: boolean;
}

export interface FlexSettlement {
  intervals: FlexIntervalResult[];
  calledWh: number;
  deliveredWh: number;
  shortfallWh: number;
  /** Buyer → seller: floor(availabilityMinor × available intervals / intervals). */
  availabilityMinor: number;
  /** Buyer → seller: floor(delivered × responseMinorPerKWh / 1000). */
  responseMinor: number;
  /** Seller → buyer: min(floor(shortfall × penaltyMinorPerKWh / 1000), the seller's deposit). */
  penaltyMinor: number;
  /** availability + response − penalty (negative: the seller pays on balance). */
  netToSellerMinor: number;
  outcome: 'not-called' | 'fulfilled' | 'partial' | 'failed';
  /** Commands that do not count, with why (ignored entirely: no call, no penalty). */
  voided: { hash: string; reason: VoidReason }[];
}

/** Why a command does not count for this contract, or null when it does. */
export function voidReason(
  contractId: string,
  c: FlexibilityContract,
  cmd: DispatchCommand,
): VoidReason | null {
  if (cmd.contract !== contractId) return 'other-contract';
  if (!c.deliveryPoints.seller.some((p) => p.gw === cmd.gw)) return 'not-a-delivery-point';
  if (cmd.end <= c.window.start || cmd.start >= c.window.end) return 'outside-window';
  if (cmd.setpointW > c.maxDischargeW || -cmd.setpointW > c.maxChargeW) return 'above-max-power';
  return null;
}

const floorDiv = (n: bigint, d: bigint) => n / d;

/**
 * The stop rule for a flexibility contract stopped early (docs/markets.md, "Flexibility
 * settlement"): the window cut at `endsAt` (an interval boundary), the availability payment
 * prorated to that part (rounded down). Calls after the cut are outside the window (void), and
 * the meters after it do not count: nothing is owed either way for the remainder.
 */
export function stoppedFlexibilityTerms(c: FlexibilityContract, endsAt: number): FlexibilityContract {
  const end = Math.min(c.window.end, Math.max(c.window.start, endsAt));
  const availabilityMinor = Number(
    floorDiv(
      BigInt(c.availabilityMinor) * BigInt(end - c.window.start),
      BigInt(c.window.end - c.window.start),
    ),
  );
  return { ...c, window: { start: c.window.start, end }, availabilityMinor };
}

/**
 * Counted export and import of the seller's delivery points per settlement interval, by the
 * contracts' proof rule (hub/contracts/proof-rules.ts): the same proofs count, the same way.
 */
export function measuredFromProofs(
  c: FlexibilityContract,
  proofs: readonly ProofRecord[],
): IntervalMeasure[] {
  const ivs = intervalsOf(c.window, c.settlementPeriodMs);
  const out = ivs.map((iv) => ({ start: iv.start, exportWh: 0, importWh: 0 }));
  const mine = proofs.filter((p) =>
    c.deliveryPoints.seller.some((d) => d.gw === p.gw && d.meter === p.meter),
  );
  const terms = { energy: c.energy, settlementPeriodMs: c.settlementPeriodMs, window: c.window };
  for (const side of ['export', 'import'] as const)
    for (const { proof, verdict } of countProofs(mine, terms, side)) {
      if (!verdict.counted) continue;
      const m = out[verdict.slot] as IntervalMeasure;
      if (side === 'export') m.exportWh = satAdd(m.exportWh, countedWh(proof, side));
      else m.importWh = satAdd(m.importWh, countedWh(proof, side));
    }
  return out;
}

/**
 * Settles a flexibility contract. `dispatches` are the hub's commands naming the contract (any
 * order); `measured` the counted energy per interval (missing intervals count 0).
 */
export function settleFlexibility(
  contractId: string,
  c: FlexibilityContract,
  dispatches: readonly DispatchRecord[],
  measured: readonly IntervalMeasure[],
): FlexSettlement {
  const voided: FlexSettlement['voided'] = [];
  const valid: DispatchRecord[] = [];
  for (const d of dispatches) {
    const why = voidReason(contractId, c, d.command);
    if (why === null) valid.push(d);
    else voided.push({ hash: d.hash, reason: why });
  }
  // The effective setpoint at an instant is the latest-issued valid command covering it.
  valid.sort((a, b) => a.command.issuedAt - b.command.issuedAt || a.index - b.index);
  const ivs = intervalsOf(c.window, c.settlementPeriodMs);
  const intervals: FlexIntervalResult[] = [];
  for (const iv of ivs) {
    const cuts = new Set<number>([iv.start, iv.end]);
    for (const d of valid) {
      if (d.command.start > iv.start && d.command.start < iv.end) cuts.add(d.command.start);
      if (d.command.end > iv.start && d.command.end < iv.end) cuts.add(d.command.end);
    }
    const points = [...cuts].sort((a, b) => a - b);
    let disWms = 0n;
    let chWms = 0n;
    for (let k = 0; k + 1 < points.length; k++) {
      const s = points[k] as number;
      const e = points[k + 1] as number;
      let effective: DispatchRecord | undefined;
      for (const d of valid) if (d.command.start <= s && d.command.end >= e) effective = d;
      if (effective === undefined) continue;
      const w = effective.command.setpointW;
      if (w > 0) disWms += BigInt(w) * BigInt(e - s);
      else if (w < 0) chWms += BigInt(-w) * BigInt(e - s);
    }
    const calledDischargeWh = Number(floorDiv(disWms, 3_600_000n));
    const calledChargeWh = Number(floorDiv(chWms, 3_600_000n));
    const m = measured.find((x) => x.start === iv.start) ?? { start: iv.start, exportWh: 0, importWh: 0 };
    const deliveredWh = Math.min(calledDischargeWh, m.exportWh) + Math.min(calledChargeWh, m.importWh);
    const unavailable = valid.some(
      (d) =>
        d.command.setpointW !== 0 &&
        d.response !== 'applied' &&
        d.command.start < iv.end &&
        d.command.end > iv.start,
    );
    intervals.push({
      start: iv.start,
      end: iv.end,
      calledDischargeWh,
      calledChargeWh,
      deliveredWh,
      unavailable,
    });
  }
  const calledWh = intervals.reduce((a, r) => a + r.calledDischargeWh + r.calledChargeWh, 0);
  const deliveredWh = intervals.reduce((a, r) => a + r.deliveredWh, 0);
  const shortfallWh = calledWh - deliveredWh;
  const available = intervals.filter((r) => !r.unavailable).length;
  const availabilityMinor =
    intervals.length === 0
      ? 0
      : Number(floorDiv(BigInt(c.availabilityMinor) * BigInt(available), BigInt(intervals.length)));
  const responseMinor = Number(floorDiv(BigInt(deliveredWh) * BigInt(c.responseMinorPerKWh), 1000n));
  const penaltyRaw = floorDiv(BigInt(shortfallWh) * BigInt(c.penaltyMinorPerKWh), 1000n);
  const penaltyMinor = Number(
    penaltyRaw < BigInt(c.deposits.seller) ? penaltyRaw : BigInt(c.deposits.seller),
  );
  const outcome: FlexSettlement['outcome'] =
    calledWh === 0
      ? 'not-called'
      : shortfallWh === 0 && available === intervals.length
        ? 'fulfilled'
        : deliveredWh === 0
          ? 'failed'
          : 'partial';
  return {
    intervals,
    calledWh,
    deliveredWh,
    shortfallWh,
    availabilityMinor,
    responseMinor,
    penaltyMinor,
    netToSellerMinor: availabilityMinor + responseMinor - penaltyMinor,
    outcome,
    voided,
  };
}
