// A gateway's fulfilment event is a claim; the proofs in the ledger are the evidence. The fold
// recomputes what the gateway's own proofs show and records the event as consistent or as
// contradicted, with each difference. Either way it moves no money: settlement reads the proofs.
import type { EnergyContract, FulfilmentEvent, Reason } from '../../protocol/messages/index.js';
import { countedWh, countProofs, type ProofRecord, satAdd } from './proof-rules.js';
import { contractedWhOf } from './settlement.js';

export interface FulfilmentRecord {
  index: number;
  gw: string;
  role: 'seller' | 'buyer';
  /** What the event claims. */
  contractedWh: number;
  measuredWh: number;
  outcome: FulfilmentEvent['outcome'];
  /** What the gateway's proofs in the log show, by the same counting rule. */
  recomputedWh: number;
  verdict: 'consistent' | 'contradicted';
  reasons: Reason[];
  /** Arrived after the contract was settled. */
  late: boolean;
}

/**
 * The proofs a gateway's event should rest on: every proof of that gateway's delivery points on
 * its side of the contract whose interval lies inside the window, in log order.
 */
export function gatewayWindowProofs<P extends ProofRecord>(
  contract: EnergyContract,
  proofs: readonly P[],
  gw: string,
  role: 'seller' | 'buyer',
): P[] {
  const points = contract.deliveryPoints[role].filter((d) => d.gw === gw);
  return proofs.filter(
    (p) =>
      points.some((d) => d.meter === p.meter && d.gw === p.gw) &&
      p.start >= contract.window.start &&
      p.end <= contract.window.end,
  );
}

export function checkFulfilment(
  contract: EnergyContract,
  proofs: readonly ProofRecord[],
  f: FulfilmentEvent,
  index: number,
  late: boolean,
): FulfilmentRecord {
  const mine = gatewayWindowProofs(contract, proofs, f.gw, f.role);
  const side = f.role === 'seller' ? 'export' : 'import';
  const terms = {
    energy: contract.energy,
    settlementPeriodMs: contract.settlementPeriodMs,
    window: contract.window,
  };
  let recomputedWh = 0;
  for (const c of countProofs(mine, terms, side))
    if (c.verdict.counted) recomputedWh = satAdd(recomputedWh, countedWh(c.proof, side));

  const reasons: Reason[] = [];
  if (f.window.start !== contract.window.start || f.window.end !== contract.window.end)
    reasons.push({ code: 'window-mismatch', message: 'the event names another window than the contract' });
  const contractedWh = contractedWhOf(contract);
  if (f.contractedWh !== contractedWh)
    reasons.push({
      code: 'contracted-mismatch',
      message: `contractedWh ${f.contractedWh}, the contract says ${contractedWh}`,
    });
  const have = new Set(mine.map((p) => p.hash));
  const claimed = new Set(f.proofs);
  const unknown = f.proofs.filter((h) => !have.has(h));
  const missing = mine.filter((p) => !claimed.has(p.hash)).map((p) => p.hash);
  if (unknown.length > 0)
    reasons.push({
      code: 'unknown-proof',
      message: `${unknown.length} cited proof(s) are not this gateway's in-window proofs in the log (first ${unknown[0]})`,
    });
  if (missing.length > 0)
    reasons.push({
      code: 'proof-not-cited',
      message: `${missing.length} in-window proof(s) in the log are not cited (first ${missing[0]})`,
    });
  if (f.measuredWh !== recomputedWh)
    reasons.push({
      code: 'measured-mismatch',
      message: `measuredWh ${f.measuredWh}, the proofs show ${recomputedWh}`,
    });
  return {
    index,
    gw: f.gw,
    role: f.role,
    contractedWh: f.contractedWh,
    measuredWh: f.measuredWh,
    outcome: f.outcome,
    recomputedWh,
    verdict: reasons.length === 0 ? 'consistent' : 'contradicted',
    reasons,
    late,
  };
}
