// Builds the signed meter proof payload (protocol/messages/meter-proof.ts) from a closed interval
// and the chain link the outbox assigns. Checked against the protocol schema before signing, so
// the agent never signs something the hub must refuse.
import {
  formatIssues,
  METER_PROOF_TYP,
  type MeterIdentity,
  type MeterProof,
  parseMeterProof,
} from '../protocol/messages/index.js';
import type { ClosedInterval } from './metering.js';
import type { ChainLink } from './outbox.js';

export { METER_PROOF_TYP };

export function meterProofPayload(
  link: ChainLink,
  meter: MeterIdentity,
  closed: ClosedInterval,
  signedAt: number,
): MeterProof {
  const payload = {
    gw: link.gw,
    seq: link.seq,
    prev: link.prev,
    meter,
    interval: closed.interval,
    importWh: closed.importWh,
    exportWh: closed.exportWh,
    samples: closed.samples,
    expectedSamples: closed.expectedSamples,
    flags: closed.flags,
    signedAt,
  };
  const parsed = parseMeterProof(payload);
  if (!parsed.ok) throw new Error(`meter proof would be invalid: ${formatIssues(parsed.issues)}`);
  // Sign exactly what was built (the parsed value adds the default energy type).
  return payload as MeterProof;
}
