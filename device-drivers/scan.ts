// `scan`: sweep unit ids on a bus and identify what answers — SunSpec devices by their model chain
// and common model, others by the identification rules of the device profiles.
import { identifyProfiles, loadProfiles, type Profile } from './profiles/loader.js';
import {
  ModbusExceptionError,
  ModbusTimeoutError,
  type ReadFunction,
  type RegisterSource,
} from './register-source.js';
import { discoverSunSpec, SUNSPEC_BASES } from './sunspec/discovery.js';

export interface ScannedDevice {
  unit: number;
  /** Address of the SunSpec marker, or null for a non-SunSpec device. */
  base: number | null;
  /** SunSpec model ids in chain order (empty for non-SunSpec devices). */
  models: number[];
  manufacturer: string | null;
  model: string | null;
  serial: string | null;
  /** The matching device profile's name, or null. */
  profile: string | null;
}

export type ScanProgress =
  | { kind: 'unit'; unit: number; index: number; total: number }
  | { kind: 'found'; device: ScannedDevice }
  | { kind: 'silent'; unit: number }
  | { kind: 'unknown'; unit: number };

export interface ScanOptions {
  units: readonly number[];
  /** Profiles to try on devices without SunSpec (default: the shipped ones). */
  profiles?: readonly Profile[];
  onProgress?: (event: ScanProgress) => void;
}

export interface ScanResult {
  devices: ScannedDevice[];
  /** Units that answered something but matched neither SunSpec nor a profile. */
  unknown: number[];
  /** Requests sent during the scan. */
  requests: number;
  elapsedMs: number;
}

/** Exception codes a TCP gateway answers for a device behind it that does not exist or does not answer. */
const GATEWAY_EXCEPTIONS = new Set([10, 11]);

/** Watches a source: did the device answer anything (data or a real exception)? */
class AnswerWatch implements RegisterSource {
  answered = false;
  requests = 0;

  constructor(private readonly source: RegisterSource) {}

  async readRegisters(unit: number, fn: ReadFunction, address: number, count: number): Promise<Uint16Array> {
    this.requests++;
    try {
      const regs = await this.source.readRegisters(unit, fn, address, count);
      this.answered = true;
      return regs;
    } catch (err) {
      if (err instanceof ModbusExceptionError && !GATEWAY_EXCEPTIONS.has(err.code)) this.answered = true;
      throw err;
    }
  }
}

/**
 * Identifies the device at one unit: SunSpec first (bases 40000, 0, 50000), then the profiles.
 * Returns null when nothing answers there. A unit that answers none of the three SunSpec probes
 * (all timed out) is taken as empty without trying the profiles: an empty RTU address would
 * otherwise cost a timeout per profile.
 */
export async function identifyUnit(
  source: RegisterSource,
  unit: number,
  profiles: readonly Profile[],
): Promise<{ device: ScannedDevice | null; answered: boolean; requests: number }> {
  const watch = new AnswerWatch(source);
  let silent = true;
  const probing: RegisterSource = {
    readRegisters: async (u, fn, address, count) => {
      try {
        const regs = await watch.readRegisters(u, fn, address, count);
        silent = false;
        return regs;
      } catch (err) {
        if (!(err instanceof ModbusTimeoutError)) silent = false;
        throw err;
      }
    },
  };
  const sunspec = await discoverSunSpec(probing, unit, { bases: SUNSPEC_BASES });
  if (sunspec !== null) {
    return {
      device: {
        unit,
        base: sunspec.base,
        models: sunspec.models.map((m) => m.id),
        manufacturer: sunspec.common?.manufacturer ?? null,
        model: sunspec.common?.model ?? null,
        serial: sunspec.common?.serial ?? null,
        profile: null,
      },
      answered: true,
      requests: watch.requests,
    };
  }
  if (silent) return { device: null, answered: false, requests: watch.requests };
  const [match] = await identifyProfiles(watch, unit, profiles);
  if (match === undefined) return { device: null, answered: watch.answered, requests: watch.requests };
  return {
    device: {
      unit,
      base: null,
      models: [],
      manufacturer: match.manufacturer,
      model: match.models[0] ?? null,
      serial: null,
      profile: match.name,
    },
    answered: true,
    requests: watch.requests,
  };
}

/** Sweeps `units` one after another (a bus carries one request at a time anyway). */
export async function scanBus(source: RegisterSource, options: ScanOptions): Promise<ScanResult> {
  const started = Date.now();
  const profiles = options.profiles ?? loadProfiles();
  const devices: ScannedDevice[] = [];
  const unknown: number[] = [];
  let requests = 0;
  const total = options.units.length;
  for (const [i, unit] of options.units.entries()) {
    options.onProgress?.({ kind: 'unit', unit, index: i + 1, total });
    const found = await identifyUnit(source, unit, profiles);
    requests += found.requests;
    if (found.device) {
      devices.push(found.device);
      options.onProgress?.({ kind: 'found', device: found.device });
    } else if (found.answered) {
      unknown.push(unit);
      options.onProgress?.({ kind: 'unknown', unit });
    } else {
      options.onProgress?.({ kind: 'silent', unit });
    }
  }
  return { devices, unknown, requests, elapsedMs: Date.now() - started };
}
