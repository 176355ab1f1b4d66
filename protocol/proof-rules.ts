// Which meter proofs count toward a contract, and for how much. One rule for everyone who reads
// proofs: the agent's contract watcher (its fulfilment events), the hub's settlement, and any
// verifier that folds the log. docs/contracts.md, "Which proofs count", gives the reasons.
import type { EnergyType, MeterProof, MeterProofFlag } from './messages/index.js';

/**
 * Flags under which a proof's energy cannot be placed in time or is not measured by the counter
 * delta: the interval counts 0 for that meter. Other flags (agent-restart, device-error, gap,
 * partial) leave the meter's own cumulative counters true, so the delta counts as signed.
 */
export const ZERO_COUNT_FLAGS: readonly MeterProofFlag[] = [
  'clock-jump',
  'clock-unsynchronised',
  'counter-reset',
  'scale-change',
];

/** What settlement keeps of one meter proof. */
export interface ProofRecord {
  /** base64url message hash of the proof's compact JWS. */
  hash: string;
  gw: string;
  meter: string;
  energy: EnergyType;
  start: number;
  end: number;
  /** Counter deltas over the interval, null for a counter that went backwards. */
  importWh: number | null;
  exportWh: number | null;
  flags: MeterProofFlag[];
}

export function proofRecordOf(hash: string, p: MeterProof): ProofRecord {
  const d = (c: { start: number; end: number }) => (c.end >= c.start ? c.end - c.start : null);
  return {
    hash,
    gw: p.gw,
    meter: p.meter.id,
    energy: p.energy,
    start: p.interval.start,
    end: p.interval.end,
    importWh: d(p.importWh),
    exportWh: d(p.exportWh),
    flags: [...p.flags],
  };
}

/** The part of a contract the counting rule looks at. */
export interface CountingTerms {
  energy: EnergyType;
  settlementPeriodMs: number;
  window: { start: number; end: number };
}

export type ProofExclusion =
  | 'energy-mismatch'
  | 'outside-window'
  | 'coarser-than-contract'
  | 'zero-count-flag'
  | 'counter-backwards'
  | 'overlaps-earlier-proof';

export type ProofVerdict =
  | { counted: true; slot: number }
  | { counted: false; reason: ProofExclusion; detail: string };

/**
 * Whether one proof counts, on its own (the overlap rule needs the others: see countProofs).
 * A proof counts when it is for the contract's energy, lies inside the window and inside one of
 * the contract's settlement intervals (slot = that interval's number from 0), and carries no
 * zero-count flag.
 */
export function judgeProof(p: ProofRecord, terms: CountingTerms, side: 'import' | 'export'): ProofVerdict {
  if (p.energy !== terms.energy)
    return { counted: false, reason: 'energy-mismatch', detail: `${p.energy}, contract is ${terms.energy}` };
  if (p.start < terms.window.start || p.end > terms.window.end)
    return {
      counted: false,
      reason: 'outside-window',
      detail: `[${p.start}, ${p.end}) is not in the window`,
    };
  const period = terms.settlementPeriodMs;
  const slot = Math.floor((p.start - terms.window.start) / period);
  if (p.end > terms.window.start + (slot + 1) * period)
    return {
      counted: false,
      reason: 'coarser-than-contract',
      detail: `${p.end - p.start} ms proof spans more than one ${period} ms settlement interval`,
    };
  const flag = p.flags.find((f) => ZERO_COUNT_FLAGS.includes(f));
  if (flag !== undefined) return { counted: false, reason: 'zero-count-flag', detail: flag };
  if ((side === 'import' ? p.importWh : p.exportWh) === null)
    return { counted: false, reason: 'counter-backwards', detail: `${side} counter went backwards` };
  return { counted: true, slot };
}

export interface CountedProof {
  proof: ProofRecord;
  verdict: ProofVerdict;
}

/**
 * Judges proofs of one side in the order given (log order): besides judgeProof, a proof whose
 * interval overlaps an earlier counted proof of the same meter is excluded, so no energy is counted
 * twice (a repeated or a finer proof of the same time).
 */
export function countProofs(
  proofs: readonly ProofRecord[],
  terms: CountingTerms,
  side: 'import' | 'export',
): CountedProof[] {
  const countedByMeter = new Map<string, ProofRecord[]>();
  return proofs.map((proof) => {
    const verdict = judgeProof(proof, terms, side);
    if (!verdict.counted) return { proof, verdict };
    const key = `${proof.gw}/${proof.meter}`;
    const earlier = countedByMeter.get(key) ?? [];
    const clash = earlier.find((e) => e.start < proof.end && proof.start < e.end);
    if (clash !== undefined)
      return {
        proof,
        verdict: { counted: false, reason: 'overlaps-earlier-proof', detail: `overlaps proof ${clash.hash}` },
      };
    earlier.push(proof);
    countedByMeter.set(key, earlier);
    return { proof, verdict };
  });
}

/** a + b, saturating at 2^53 − 1 (unreachable for real meters; keeps every sum a safe integer). */
export function satAdd(a: number, b: number): number {
  const s = a + b;
  return Math.min(s, Number.MAX_SAFE_INTEGER);
}

/** The energy a counted proof contributes on one side. */
export function countedWh(p: ProofRecord, side: 'import' | 'export'): number {
  return (side === 'import' ? p.importWh : p.exportWh) ?? 0;
}
