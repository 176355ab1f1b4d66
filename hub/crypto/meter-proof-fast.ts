// A hand-written check of the meter-proof payload, for the hub's hot path: the zod schema of
// protocol/messages/meter-proof.ts costs about as much per message as the signature check. This
// accepts exactly what the schema accepts (meter-proof-fast.test.ts proves it on generated
// payloads with fast-check) and returns the same parsed value. Whenever it does not accept, the
// caller runs the zod schema, which decides and names what is wrong, so a refusal reads the same.
import {
  B64URL_32_PATTERN,
  ENERGY_TYPES,
  ID_PATTERNS,
  MAX_UTC_MS,
  METER_PROOF_FLAGS,
  type MeterProof,
  NAME_PATTERN,
} from '../../protocol/messages/index.js';
import { gasWhFromDm3, SETTLEMENT_PERIODS_MS } from '../../protocol/units.js';

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNonNegative = (v: unknown): v is number => isInt(v) && v >= 0;
const isUtcMs = (v: unknown): v is number => isNonNegative(v) && v <= MAX_UTC_MS;
const CONTROL = /\p{Cc}/u;
const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= max && !CONTROL.test(v);

/** Every own key of `o` is in `allowed` (zod's strictObject refuses any other). */
function onlyKeys(o: Obj, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

const PROOF_KEYS = new Set([
  'gw',
  'seq',
  'prev',
  'meter',
  'energy',
  'interval',
  'importWh',
  'exportWh',
  'samples',
  'expectedSamples',
  'flags',
  'gas',
  'signedAt',
]);
const METER_KEYS = new Set(['id', 'serial', 'model', 'manufacturer']);
const PAIR_KEYS = new Set(['start', 'end']);
const GAS_KEYS = new Set(['volumeDm3', 'calorificValueWhPerM3']);
const FLAGS: ReadonlySet<string> = new Set(METER_PROOF_FLAGS);
const ENERGIES: ReadonlySet<string> = new Set(ENERGY_TYPES);
const MISSING_SAMPLE_FLAGS = ['agent-restart', 'device-error', 'gap', 'partial'];
const CLOCK_FLAGS = ['clock-jump', 'clock-unsynchronised'];
const BACKWARDS_FLAGS = ['counter-reset', 'scale-change'];

function isPair(v: unknown, ok: (x: unknown) => boolean): v is { start: number; end: number } {
  return isObject(v) && onlyKeys(v, PAIR_KEYS) && ok(v.start) && ok(v.end);
}

function isMeter(v: unknown): boolean {
  if (!isObject(v) || !onlyKeys(v, METER_KEYS)) return false;
  if (typeof v.id !== 'string' || !NAME_PATTERN.test(v.id) || !isText(v.serial, 64)) return false;
  if ('model' in v && !isText(v.model, 128)) return false;
  return !('manufacturer' in v) || isText(v.manufacturer, 128);
}

/**
 * The parsed meter proof when `payload` satisfies meterProofSchema (structure and cross-field
 * rules), else undefined. Never throws.
 */
export function acceptMeterProof(payload: unknown): MeterProof | undefined {
  try {
    return check(payload);
  } catch {
    return undefined; // e.g. a gas product past 2^53: the schema decides and explains
  }
}

function check(p: unknown): MeterProof | undefined {
  if (!isObject(p) || !onlyKeys(p, PROOF_KEYS)) return undefined;
  // Structure.
  if (typeof p.gw !== 'string' || !ID_PATTERNS.gw.test(p.gw)) return undefined;
  if (!isNonNegative(p.seq)) return undefined;
  if (p.prev !== null && (typeof p.prev !== 'string' || !B64URL_32_PATTERN.test(p.prev))) return undefined;
  if (!isMeter(p.meter)) return undefined;
  const energy = 'energy' in p ? p.energy : 'electricity';
  if (typeof energy !== 'string' || !ENERGIES.has(energy)) return undefined;
  const { interval, importWh, exportWh, samples, expectedSamples, flags, gas, signedAt } = p;
  if (!isPair(interval, isUtcMs)) return undefined;
  if (!isPair(importWh, isNonNegative) || !isPair(exportWh, isNonNegative)) return undefined;
  if (!isNonNegative(samples) || !isInt(expectedSamples) || expectedSamples < 1) return undefined;
  if (!Array.isArray(flags) || flags.length > FLAGS.size) return undefined;
  for (const f of flags) if (typeof f !== 'string' || !FLAGS.has(f)) return undefined;
  const hasGas = 'gas' in p;
  if (
    hasGas &&
    !(
      isObject(gas) &&
      onlyKeys(gas, GAS_KEYS) &&
      isPair(gas.volumeDm3, isNonNegative) &&
      isInt(gas.calorificValueWhPerM3) &&
      gas.calorificValueWhPerM3 >= 1
    )
  )
    return undefined;
  if (!isUtcMs(signedAt)) return undefined;
  // Cross-field rules.
  if ((p.seq === 0) !== (p.prev === null)) return undefined;
  const length = interval.end - interval.start;
  if (length <= 0 || !SETTLEMENT_PERIODS_MS.includes(length) || interval.start % length !== 0)
    return undefined;
  for (let i = 1; i < flags.length; i++) if (!(flags[i - 1] < flags[i])) return undefined;
  const has = (f: string) => flags.includes(f);
  if (!BACKWARDS_FLAGS.some(has) && (importWh.end < importWh.start || exportWh.end < exportWh.start))
    return undefined;
  if (samples > expectedSamples) return undefined;
  if (samples < expectedSamples && !MISSING_SAMPLE_FLAGS.some(has)) return undefined;
  if (signedAt < interval.end && !CLOCK_FLAGS.some(has)) return undefined;
  if (hasGas) {
    if (energy !== 'gas') return undefined;
    const g = gas as { volumeDm3: { start: number; end: number }; calorificValueWhPerM3: number };
    if (importWh.start !== gasWhFromDm3(g.volumeDm3.start, g.calorificValueWhPerM3)) return undefined;
    if (importWh.end !== gasWhFromDm3(g.volumeDm3.end, g.calorificValueWhPerM3)) return undefined;
  }
  return { ...p, energy } as MeterProof;
}
