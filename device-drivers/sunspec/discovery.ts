// SunSpec discovery over a RegisterSource: find the `SunS` marker, walk the model chain to the end
// marker, and read the common model (manufacturer, model, serial, version).
import { decodeRaw } from '../codec.js';
import {
  ModbusExceptionError,
  ModbusTimeoutError,
  type ReadFunction,
  type RegisterSource,
} from '../register-source.js';
import type { ModelLocation } from './index.js';
import { model1 } from './models/model-1.js';
import type { SunSpecPointDef } from './types.js';

export type { ModelLocation } from './index.js';

const commonPoint = (name: string): SunSpecPointDef => {
  const p = model1.points.find((q) => q.name === name);
  if (p === undefined) throw new Error(`model 1 table has no ${name}`);
  return p;
};
const model1Layout = {
  Mn: commonPoint('Mn'),
  Md: commonPoint('Md'),
  Opt: commonPoint('Opt'),
  Vr: commonPoint('Vr'),
  SN: commonPoint('SN'),
  DA: commonPoint('DA'),
};

/** Base addresses to probe, in order (SunSpec: 40000 first, then 0, then 50000). */
export const SUNSPEC_BASES: readonly number[] = [40000, 0, 50000];

/** "SunS" as two registers. */
export const SUNS_MARKER: readonly [number, number] = [0x5375, 0x6e53];

/** The model id that ends the chain. */
export const END_MODEL_ID = 0xffff;

/** Decoded common model (model 1). Missing strings are null. */
export interface CommonInfo {
  readonly manufacturer: string | null;
  readonly model: string | null;
  readonly options: string | null;
  readonly version: string | null;
  readonly serial: string | null;
  readonly deviceAddress: number | null;
  /** 65 for the legacy common model without the pad register, 66 for the current one. */
  readonly length: number;
}

export interface SunSpecDevice {
  /** Address of the `SunS` marker. */
  readonly base: number;
  readonly models: readonly ModelLocation[];
  /** Model 1 decoded, or null if the chain does not start with it (or it could not be read). */
  readonly common: CommonInfo | null;
  /** Whether the walk reached the 0xFFFF end marker. */
  readonly complete: boolean;
  /** What was odd about the chain (missing end marker, absurd length, a loop). */
  readonly warnings: readonly string[];
}

export interface DiscoveryOptions {
  readonly bases?: readonly number[];
  readonly fn?: ReadFunction;
  /** Stop after this many models (a guard against garbage chains). */
  readonly maxModels?: number;
}

function isNoAnswer(e: unknown): boolean {
  return e instanceof ModbusExceptionError || e instanceof ModbusTimeoutError;
}

/**
 * Looks for SunSpec at each base in turn (a timeout or an exception there means "try the next")
 * and walks the model chain from the first base that carries the marker. Returns null when no
 * base does. Any other error (a closed connection) is thrown.
 */
export async function discoverSunSpec(
  source: RegisterSource,
  unit: number,
  opts: DiscoveryOptions = {},
): Promise<SunSpecDevice | null> {
  const fn = opts.fn ?? 3;
  for (const base of opts.bases ?? SUNSPEC_BASES) {
    let marker: Uint16Array;
    try {
      marker = await source.readRegisters(unit, fn, base, 2);
    } catch (e) {
      if (isNoAnswer(e)) continue;
      throw e;
    }
    if (marker[0] !== SUNS_MARKER[0] || marker[1] !== SUNS_MARKER[1]) continue;
    return walkChain(source, unit, fn, base, opts.maxModels ?? 64);
  }
  return null;
}

async function walkChain(
  source: RegisterSource,
  unit: number,
  fn: ReadFunction,
  base: number,
  maxModels: number,
): Promise<SunSpecDevice> {
  const models: ModelLocation[] = [];
  const warnings: string[] = [];
  let complete = false;
  let address = base + 2;
  while (true) {
    if (models.length >= maxModels) {
      warnings.push(`stopped after ${maxModels} models without an end marker`);
      break;
    }
    if (address + 2 > 0x10000) {
      warnings.push(`the chain runs past the last register (0xFFFF) at ${address}`);
      break;
    }
    let header: Uint16Array;
    try {
      header = await source.readRegisters(unit, fn, address, 2);
    } catch (e) {
      if (!isNoAnswer(e)) throw e;
      // Many devices have no end marker and answer "illegal address" past their last model.
      warnings.push(`no end marker: reading the model header at ${address} failed (${(e as Error).message})`);
      break;
    }
    const id = header[0] as number;
    const length = header[1] as number;
    if (id === END_MODEL_ID) {
      complete = true;
      break;
    }
    if (id === 0) {
      warnings.push(`model id 0 at ${address}: treated as the end of the chain`);
      break;
    }
    if (address + 2 + length > 0x10000) {
      warnings.push(
        `model ${id} at ${address} claims ${length} registers, past the end of the address space`,
      );
      break;
    }
    models.push({ id, address, length });
    address += 2 + length;
  }
  const common = models[0]?.id === 1 ? await readCommon(source, unit, fn, models[0], warnings) : null;
  if (models[0] !== undefined && models[0].id !== 1)
    warnings.push(`the first model is ${models[0].id}, not 1`);
  return { base, models, common, complete, warnings };
}

async function readCommon(
  source: RegisterSource,
  unit: number,
  fn: ReadFunction,
  loc: ModelLocation,
  warnings: string[],
): Promise<CommonInfo | null> {
  if (loc.length < 65) {
    warnings.push(`model 1 is ${loc.length} registers long, shorter than the legacy 65`);
    return null;
  }
  // Everything up to DA sits in the first 67 registers; one request reads it.
  const count = Math.min(loc.length + 2, 68);
  let regs: Uint16Array;
  try {
    regs = await source.readRegisters(unit, fn, loc.address, count);
  } catch (e) {
    if (!isNoAnswer(e)) throw e;
    warnings.push(`reading model 1 failed (${(e as Error).message})`);
    return null;
  }
  const str = (name: 'Mn' | 'Md' | 'Opt' | 'Vr' | 'SN'): string | null => {
    const p = model1Layout[name];
    const v = decodeRaw(p, regs, p.offset);
    return typeof v === 'string' ? v : null;
  };
  const da = decodeRaw(model1Layout.DA, regs, model1Layout.DA.offset);
  return {
    manufacturer: str('Mn'),
    model: str('Md'),
    options: str('Opt'),
    version: str('Vr'),
    serial: str('SN'),
    deviceAddress: typeof da === 'number' ? da : null,
    length: loc.length,
  };
}
