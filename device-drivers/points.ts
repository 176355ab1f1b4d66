// What a register point is: its place on the bus (address, function code, size), how its words
// turn into a value (type, word and byte order, scale) and what the value means (unit). SunSpec
// tables, device profiles, the planner and the reader all speak in these terms.
import type { ReadFunction } from './register-source.js';

/** Register value types. The SunSpec names, plus word-order-aware 64-bit and float64 types. */
export const POINT_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'acc16',
  'acc32',
  'acc64',
  'float32',
  'float64',
  'string',
  'bitfield16',
  'bitfield32',
  'bitfield64',
  'enum16',
  'enum32',
  'sunssf',
  'pad',
  'count',
  'ipaddr',
  'eui48',
] as const;

export type PointType = (typeof POINT_TYPES)[number];

export function isPointType(s: string): s is PointType {
  return (POINT_TYPES as readonly string[]).includes(s);
}

/** Registers a value of each fixed-size type occupies; `string` has its size given per point. */
export const TYPE_SIZE: Readonly<Record<Exclude<PointType, 'string'>, number>> = {
  int16: 1,
  uint16: 1,
  acc16: 1,
  bitfield16: 1,
  enum16: 1,
  sunssf: 1,
  pad: 1,
  count: 1,
  int32: 2,
  uint32: 2,
  acc32: 2,
  float32: 2,
  bitfield32: 2,
  enum32: 2,
  ipaddr: 2,
  int64: 4,
  uint64: 4,
  acc64: 4,
  float64: 4,
  bitfield64: 4,
  eui48: 4,
};

/** Types whose value is a monotonic energy (or other) counter: the only types a counter may have. */
export const ACCUMULATOR_TYPES: readonly PointType[] = ['acc16', 'acc32', 'acc64'];

/**
 * Which register of a multi-register value comes first. `big`: the most significant word first
 * (Modbus convention, SunSpec); `little`: the least significant word first ("word swapped").
 */
export type WordOrder = 'big' | 'little';

/** Byte order inside each 16-bit register. `big` is the Modbus convention; `little` = byte swapped. */
export type ByteOrder = 'big' | 'little';

/**
 * Which raw values mean "not implemented". `sunspec`: the SunSpec sentinels (0x8000, 0xFFFF,
 * 0x80000000, accumulators 0, ...). `none`: every raw value is a value (most non-SunSpec meters,
 * where an energy counter of 0 is a fresh meter). NaN and infinities are never a value.
 */
export type SentinelRule = 'sunspec' | 'none';

/** How to decode the registers of one value. */
export interface PointLayout {
  readonly type: PointType;
  /** Registers, required for `string`; defaults to the type's size otherwise. */
  readonly size?: number;
  readonly wordOrder?: WordOrder;
  readonly byteOrder?: ByteOrder;
  readonly sentinels?: SentinelRule;
}

/** A layout with its scale: value = raw × 10^(scaleExp + sf) × scaleFactor. */
export interface ScaledLayout extends PointLayout {
  /** Static scale: value = raw × 10^scaleExp (integer-exact for energy counters). */
  readonly scaleExp?: number;
  /** Static scale that is not a power of ten: value = raw × 10^scaleExp × scaleFactor. */
  readonly scaleFactor?: number;
  /** Name (in the same device) of the SunSpec scale-factor point: value = raw × 10^sf. */
  readonly sf?: string;
}

/** One point on a device: where it is, how to decode it and what it means. */
export interface PointDef extends ScaledLayout {
  /** Unique within a device: `203.TotWhImp` for SunSpec, the profile's name otherwise. */
  readonly name: string;
  readonly fn: ReadFunction;
  /** Absolute register address (0-based, as sent on the wire). */
  readonly address: number;
  readonly size: number;
  readonly units?: string | null;
  /** A monotonic counter (energy): the reader offers integer-exact values for it. */
  readonly counter?: boolean;
  readonly label?: string;
}

/** A decoded value before scaling: integers up to 32 bits as numbers, 64-bit ones as bigint. */
export type RawValue = number | bigint | string | null;

/** A decoded value with its scale applied; what `read --json` prints. */
export type PointValue = number | string | null;
