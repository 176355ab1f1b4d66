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
import { gasWhFromDm3 } from '../protocol/units.js';
import type { MeterCarrier } from './meter-source.js';
import type { ClosedInterval } from './metering.js';
import type { ChainLink } from './outbox.js';

export { METER_PROOF_TYP };

/**
 * The payload for a closed interval. `carrier` says what the meter measures (absent: electricity,
 * and `energy` is left out of the payload as before). A gas meter that counts volume signs its
 * volume and the declared calorific value too (the `gas` member), with importWh derived from them
 * at both ends; if the interval's start was converted with another calorific value (the installer
 * changed it), the start is converted again and the proof flagged scale-change.
 */
export function meterProofPayload(
  link: ChainLink,
  meter: MeterIdentity,
  closed: ClosedInterval,
  signedAt: number,
  carrier?: MeterCarrier,
): MeterProof {
  let importWh = closed.importWh;
  let flags = closed.flags;
  let gas: { volumeDm3: { start: number; end: number }; calorificValueWhPerM3: number } | undefined;
  const cv = carrier?.calorificValueWhPerM3;
  if (carrier?.energy === 'gas' && cv !== undefined && closed.volumeDm3 !== undefined) {
    gas = { volumeDm3: closed.volumeDm3, calorificValueWhPerM3: cv };
    const start = gasWhFromDm3(closed.volumeDm3.start, cv);
    if (start !== importWh.start) {
      importWh = { start, end: importWh.end };
      if (!flags.includes('scale-change')) flags = [...flags, 'scale-change' as const].sort();
    }
  }
  const payload = {
    gw: link.gw,
    seq: link.seq,
    prev: link.prev,
    meter,
    ...(carrier !== undefined && carrier.energy !== 'electricity' ? { energy: carrier.energy } : {}),
    interval: closed.interval,
    importWh,
    exportWh: closed.exportWh,
    samples: closed.samples,
    expectedSamples: closed.expectedSamples,
    flags,
    ...(gas !== undefined ? { gas } : {}),
    signedAt,
  };
  const parsed = parseMeterProof(payload);
  if (!parsed.ok) throw new Error(`meter proof would be invalid: ${formatIssues(parsed.issues)}`);
  // Sign exactly what was built (the parsed value adds the default energy type).
  return payload as MeterProof;
}
