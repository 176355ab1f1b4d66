// The meter proof: one per meter and settlement interval, signed by the gateway, chained. It
// carries the meter's own cumulative counters at both ends of the interval (never an integral of
// power), so consecutive proofs link and any gap or reset shows.
import { z } from 'zod';
import { gasWhFromDm3 } from '../units.js';
import {
  chainFields,
  chainRules,
  counterPair,
  energyType,
  interval,
  name,
  nonNegativeInt,
  parseWith,
  positiveInt,
  type RuleIssue,
  settlementIntervalRules,
  sortedUniqueRules,
  text,
  utcMs,
  withRules,
} from './common.js';

export const METER_PROOF_TYP = 'wattproof.meter-proof.v1';

/**
 * Quality flags. A proof never hides a problem: when one of these happened during the interval the
 * flag is set, and settlement rules decide what a flagged interval is worth.
 */
export const METER_PROOF_FLAGS = [
  'agent-restart', // the agent started during this interval; readings may come from fewer polls
  'clock-jump', // the system clock stepped during the interval (detected against a monotonic clock)
  'clock-unsynchronised', // the system clock was not synchronised (NTP) at some point in the interval
  'counter-reset', // a cumulative counter went backwards (meter replaced, reset or overflowed)
  'device-error', // the meter failed to answer or answered with an error at least once
  'gap', // samples are missing inside the interval
  'partial', // the readings do not cover the whole interval (first or last interval of a run)
  'scale-change', // the device's scale factor changed during the interval
] as const;
export const meterProofFlag = z.enum(METER_PROOF_FLAGS);
export type MeterProofFlag = z.infer<typeof meterProofFlag>;

/** Flags that account for fewer samples than expected. */
const MISSING_SAMPLE_FLAGS: readonly MeterProofFlag[] = ['agent-restart', 'device-error', 'gap', 'partial'];
/** Flags under which signedAt may precede the interval's end. */
const CLOCK_FLAGS: readonly MeterProofFlag[] = ['clock-jump', 'clock-unsynchronised'];
/** Flags under which a cumulative counter may go backwards. */
const BACKWARDS_FLAGS: readonly MeterProofFlag[] = ['counter-reset', 'scale-change'];

export const meterIdentity = z.strictObject({
  /** The meter's name in the gateway's configuration. */
  id: name,
  /** The serial number the device reports (or the installer entered). */
  serial: text(64),
  model: text(128).optional(),
  manufacturer: text(128).optional(),
});
export type MeterIdentity = z.infer<typeof meterIdentity>;

/** Gas meters that count volume: the volume counter and the declared calorific value. */
export const gasVolume = z.strictObject({
  /** Cumulative volume counter in dm³ (litres) at the interval's start and end. */
  volumeDm3: counterPair,
  /** Declared calorific value in Wh per m³ (e.g. 10 550 for natural gas H). */
  calorificValueWhPerM3: positiveInt,
});

const structure = z.strictObject({
  ...chainFields,
  meter: meterIdentity,
  /** Energy carrier; absent means electricity (the parsed value then says 'electricity'). */
  energy: energyType.default('electricity'),
  interval,
  /** Cumulative import (energy taken from the grid/network) counter readings, Wh. */
  importWh: counterPair,
  /** Cumulative export (energy fed into the grid/network) counter readings, Wh. */
  exportWh: counterPair,
  samples: nonNegativeInt,
  expectedSamples: positiveInt,
  flags: z.array(meterProofFlag).max(METER_PROOF_FLAGS.length),
  gas: gasVolume.optional(),
  signedAt: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out: RuleIssue[] = [...chainRules(v), ...settlementIntervalRules(v.interval, ['interval'])];
  out.push(...sortedUniqueRules(v.flags, ['flags']));
  const has = (f: MeterProofFlag) => v.flags.includes(f);
  const backwardsAllowed = BACKWARDS_FLAGS.some(has);
  for (const key of ['importWh', 'exportWh'] as const) {
    if (v[key].end < v[key].start && !backwardsAllowed)
      out.push({
        path: [key, 'end'],
        message: `is below start (${v[key].end} < ${v[key].start}): a cumulative counter went backwards; flag "counter-reset" (or "scale-change")`,
      });
  }
  if (v.samples > v.expectedSamples)
    out.push({ path: ['samples'], message: `must not exceed expectedSamples (${v.expectedSamples})` });
  if (v.samples < v.expectedSamples && !MISSING_SAMPLE_FLAGS.some(has))
    out.push({
      path: ['flags'],
      message: `samples (${v.samples}) < expectedSamples (${v.expectedSamples}) needs one of the flags ${MISSING_SAMPLE_FLAGS.map((f) => `"${f}"`).join(', ')}`,
    });
  if (v.signedAt < v.interval.end && !CLOCK_FLAGS.some(has))
    out.push({
      path: ['signedAt'],
      message:
        'is before interval.end: a proof is signed after its interval closes (or flags a clock problem)',
    });
  if (v.gas !== undefined) {
    if (v.energy !== 'gas') out.push({ path: ['gas'], message: 'is only allowed when energy is "gas"' });
    else {
      const cv = v.gas.calorificValueWhPerM3;
      for (const end of ['start', 'end'] as const) {
        const expected = gasWhFromDm3(v.gas.volumeDm3[end], cv);
        if (v.importWh[end] !== expected)
          out.push({
            path: ['importWh', end],
            message: `must equal floor(gas.volumeDm3.${end} × calorificValueWhPerM3 / 1000) = ${expected}`,
          });
      }
    }
  }
  return out;
}

export const meterProofSchema = withRules(structure, rules);
export type MeterProof = z.output<typeof meterProofSchema>;

export function parseMeterProof(payload: unknown) {
  return parseWith(meterProofSchema, payload);
}

/** Energy imported and exported over the interval, or null for a counter that went backwards. */
export function meterProofDeltas(p: MeterProof): { importWh: number | null; exportWh: number | null } {
  const d = (c: { start: number; end: number }) => (c.end >= c.start ? c.end - c.start : null);
  return { importWh: d(p.importWh), exportWh: d(p.exportWh) };
}
