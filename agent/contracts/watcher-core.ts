// The contract watcher's pure core: given an active contract, this gateway's own meter proofs and
// the time, decide whether the delivery window has closed and, if so, build the fulfilment event
// this gateway signs for each side it meters — contracted vs measured Wh, the outcome, and the
// hashes of the proofs it rests on. No I/O, no clock: the class in watcher.ts supplies both.
import { b64url, fromUtf8 } from '../../protocol/index.js';
import {
  contractIdOf,
  type EnergyContract,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  formatIssues,
  fulfilmentOutcome,
  parseContract,
  type SignedContract,
} from '../../protocol/messages/index.js';
import { countedWh, countProofs, type ProofRecord, satAdd } from './proof-rules.js';

export { FULFILMENT_TYP };

export type Role = 'seller' | 'buyer';

/** A contract the hub sent this gateway, with its id (ct-… of the payload both parties signed). */
export interface WatchedContract {
  id: string;
  contract: EnergyContract;
}

/** One of this gateway's own proofs as the watcher keeps it: the hub's record plus its chain seq. */
export interface OwnProof extends ProofRecord {
  seq: number;
}

/** The fulfilment event without its chain link (gw, seq, prev), which the outbox assigns. */
export type FulfilmentBody = Omit<FulfilmentEvent, 'gw' | 'seq' | 'prev'>;

/** The contract's whole obligation over the window, Wh (the hub's contractedWhOf). */
export function contractedWhOf(contract: EnergyContract): number {
  if (contract.quantity.per === 'window') return contract.quantity.wh;
  const n = (contract.window.end - contract.window.start) / contract.settlementPeriodMs;
  const total = BigInt(contract.quantity.wh) * BigInt(n);
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

/** The sides of the contract this gateway meters (normally one). */
export function rolesOf(contract: EnergyContract, gw: string): Role[] {
  return (['seller', 'buyer'] as const).filter((r) => contract.deliveryPoints[r].some((d) => d.gw === gw));
}

/** This gateway's meters on one side of the contract. */
export function metersOf(contract: EnergyContract, gw: string, role: Role): string[] {
  return contract.deliveryPoints[role].filter((d) => d.gw === gw).map((d) => d.meter);
}

/** The proofs an event rests on: this gateway's proofs of its meters on `role`, inside the window. */
export function windowProofs(
  contract: EnergyContract,
  gw: string,
  role: Role,
  proofs: readonly OwnProof[],
): OwnProof[] {
  const meters = metersOf(contract, gw, role);
  return proofs
    .filter(
      (p) =>
        p.gw === gw &&
        meters.includes(p.meter) &&
        p.start >= contract.window.start &&
        p.end <= contract.window.end,
    )
    .sort((a, b) => a.seq - b.seq);
}

/** Builds the event body: measured = counted export (seller) or import (buyer) of those proofs. */
export function buildFulfilment(
  watched: WatchedContract,
  gw: string,
  role: Role,
  proofs: readonly OwnProof[],
  signedAt: number,
): FulfilmentBody {
  const { contract } = watched;
  const mine = windowProofs(contract, gw, role, proofs);
  const side = role === 'seller' ? 'export' : 'import';
  const terms = {
    energy: contract.energy,
    settlementPeriodMs: contract.settlementPeriodMs,
    window: contract.window,
  };
  let measuredWh = 0;
  // Counted in seq order, the order the hub's log holds them in (the agent appends in seq order).
  for (const c of countProofs(mine, terms, side))
    if (c.verdict.counted) measuredWh = satAdd(measuredWh, countedWh(c.proof, side));
  const contractedWh = contractedWhOf(contract);
  return {
    contract: watched.id,
    role,
    window: { start: contract.window.start, end: contract.window.end },
    contractedWh,
    measuredWh,
    outcome: fulfilmentOutcome(contractedWh, measuredWh),
    proofs: [...new Set(mine.map((p) => p.hash))],
    signedAt,
  };
}

/** Whether this gateway's proofs of its meters on `role` cover every instant of the window. */
export function windowCovered(
  contract: EnergyContract,
  gw: string,
  role: Role,
  proofs: readonly OwnProof[],
): boolean {
  const mine = windowProofs(contract, gw, role, proofs);
  for (const meter of metersOf(contract, gw, role)) {
    const spans = mine.filter((p) => p.meter === meter).sort((a, b) => a.start - b.start);
    let reached = contract.window.start;
    for (const p of spans) {
      if (p.start > reached) return false;
      reached = Math.max(reached, p.end);
    }
    if (reached < contract.window.end) return false;
  }
  return true;
}

export type WatchStep =
  | { action: 'wait'; role: Role; until: number; reason: 'window-open' | 'awaiting-proofs' }
  | { action: 'sign'; role: Role; body: FulfilmentBody }
  | { action: 'done'; role: Role };

export interface WatchInput {
  watched: WatchedContract;
  gw: string;
  now: number;
  /** This gateway's proofs (any superset of the window's is fine). */
  proofs: readonly OwnProof[];
  /** Whether an event for this contract and side was already signed (the persisted dedupe). */
  alreadySigned: (contractId: string, role: Role) => boolean;
  /** How long after the window ends to wait for missing proofs before signing without them. */
  graceMs: number;
}

/**
 * What to do now for each side this gateway meters:
 *  - already signed → done (restarts and repeated checks never sign twice);
 *  - window still open → wait until its end;
 *  - window closed and every interval has this gateway's proofs, or the grace period is over →
 *    sign (a missing interval then simply counts 0, as it will at the hub);
 *  - otherwise wait until the grace period ends.
 */
export function decideFulfilments(input: WatchInput): WatchStep[] {
  const { watched, gw, now } = input;
  const { contract } = watched;
  return rolesOf(contract, gw).map((role): WatchStep => {
    if (input.alreadySigned(watched.id, role)) return { action: 'done', role };
    if (now < contract.window.end)
      return { action: 'wait', role, until: contract.window.end, reason: 'window-open' };
    const graceEnd = contract.window.end + input.graceMs;
    if (now < graceEnd && !windowCovered(contract, gw, role, input.proofs))
      return { action: 'wait', role, until: graceEnd, reason: 'awaiting-proofs' };
    return { action: 'sign', role, body: buildFulfilment(watched, gw, role, input.proofs, now) };
  });
}

/**
 * The contract the hub sends to a delivery point's gateway (the signed contract, both
 * signatures): its id and its terms, or why it cannot be watched. The hub's command channel
 * authenticates the sender; the id is recomputed here from the payload bytes both parties signed.
 */
export function watchedContractFrom(
  signed: SignedContract,
): { ok: true; watched: WatchedContract } | { ok: false; reason: string } {
  let payload: unknown;
  try {
    payload = JSON.parse(fromUtf8(b64url.decode(signed.payload)));
  } catch {
    return { ok: false, reason: 'the contract payload is not base64url JSON' };
  }
  const parsed = parseContract(payload);
  if (!parsed.ok) return { ok: false, reason: formatIssues(parsed.issues) };
  if (parsed.value.product !== 'energy')
    return { ok: false, reason: `${parsed.value.product} contracts have no fulfilment event yet` };
  return { ok: true, watched: { id: contractIdOf(signed), contract: parsed.value } };
}
