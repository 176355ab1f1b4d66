// A SunSpec register image: the `SunS` marker, a chain of models laid out from the project's
// tables, and the end marker, with points set by name in engineering units. The simulators serve
// one of these per unit; tests use it as the device behind a RegisterSource.
import { decodePoint, encodePoint, encodeRaw } from '../codec.js';
import type { PointDef, PointValue } from '../points.js';
import { ModbusExceptionError } from '../register-source.js';
import { END_MODEL_ID, SUNS_MARKER } from './discovery.js';
import { type ModelLocation, modelLength, modelPointDefs, sunspecModel } from './index.js';

export interface ImageModelSpec {
  readonly id: number;
  /** Instances of the model's repeating group (160: modules). */
  readonly repeats?: number;
  /** For model 1: lay out the legacy 65-register common model (no pad). */
  readonly legacy?: boolean;
}

/** Illegal data address, the exception a device answers for registers it does not have. */
const ILLEGAL_ADDRESS = 2;

export class SunSpecImage {
  readonly base: number;
  readonly locations: readonly ModelLocation[];
  /** Every point by its `<model>.<point>` name. */
  readonly points: ReadonlyMap<string, PointDef>;
  /** Registers from `base` (the marker) through the end marker. */
  readonly registers: Uint16Array;

  constructor(base: number, models: readonly ImageModelSpec[]) {
    this.base = base;
    const locations: ModelLocation[] = [];
    const points = new Map<string, PointDef>();
    const seen = new Map<number, number>();
    let address = base + 2;
    for (const spec of models) {
      const def = sunspecModel(spec.id);
      if (def === undefined) throw new RangeError(`no table for SunSpec model ${spec.id}`);
      const length = spec.legacy && spec.id === 1 ? 65 : modelLength(def, spec.repeats ?? 0);
      const loc = { id: spec.id, address, length };
      locations.push(loc);
      const n = (seen.get(spec.id) ?? 0) + 1;
      seen.set(spec.id, n);
      for (const p of modelPointDefs(def, loc, { prefix: n === 1 ? String(spec.id) : `${spec.id}#${n}` })) {
        points.set(p.name, p);
      }
      address += 2 + length;
    }
    this.locations = locations;
    this.points = points;
    this.registers = new Uint16Array(address + 2 - base);
    this.registers.set(SUNS_MARKER, 0);
    this.registers.set([END_MODEL_ID, 0], address - base);
    // Every point starts "not implemented"; pads read 0x8000 as SunSpec asks.
    for (let a = base + 2; a < address; a++) this.registers[a - base] = 0x8000;
    for (const p of points.values()) this.registers.set(encodeRaw(p, null), p.address - base);
    for (const loc of locations) this.registers.set([loc.id, loc.length], loc.address - base);
  }

  point(name: string): PointDef {
    const p = this.points.get(name);
    if (p === undefined) throw new RangeError(`no point ${name} in this image`);
    return p;
  }

  /**
   * Sets a point in engineering units (W, Wh, V…). A scaled point is encoded with the current value
   * of its scale-factor point, so set the `_SF` points first. null writes "not implemented".
   */
  set(name: string, value: number | bigint | string | null): void {
    const p = this.point(name);
    let sf = 0;
    if (p.sf !== undefined) {
      const s = this.get(p.sf);
      if (typeof s !== 'number') throw new RangeError(`${name} needs its scale factor ${p.sf} set first`);
      sf = s;
    }
    this.registers.set(encodePoint(p, value, sf), p.address - this.base);
  }

  /** Decodes a point from the image (scale factors applied). */
  get(name: string): PointValue {
    const p = this.point(name);
    const sf = p.sf !== undefined ? this.get(p.sf) : undefined;
    return decodePoint(p, this.registers, p.address - this.base, typeof sf === 'number' ? sf : null).value;
  }

  /** Reads like a device: registers outside the image raise "illegal data address". */
  read(address: number, count: number): Uint16Array {
    const start = address - this.base;
    if (start < 0 || start + count > this.registers.length || count < 1) {
      throw new ModbusExceptionError(
        ILLEGAL_ADDRESS,
        `Modbus exception 2 (illegal data address) at ${address}+${count}`,
      );
    }
    return this.registers.slice(start, start + count);
  }
}
