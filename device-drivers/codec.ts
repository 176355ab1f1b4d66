// Register codec: 16-bit Modbus registers ⇄ values. Pure functions, no I/O. Decoding turns the
// "not implemented" sentinels into null so that no placeholder ever reaches a signed proof as a
// number; encoding (for the simulators) is the exact inverse.
import {
  type PointLayout,
  type RawValue,
  type ScaledLayout,
  type SentinelRule,
  TYPE_SIZE,
} from './points.js';

/** Registers a value of this layout occupies. */
export function pointSize(layout: PointLayout): number {
  if (layout.type === 'string') {
    if (layout.size === undefined || !Number.isInteger(layout.size) || layout.size < 1) {
      throw new RangeError('a string point needs a size (registers, a positive integer)');
    }
    return layout.size;
  }
  return TYPE_SIZE[layout.type];
}

/** SunSpec scale factors are limited to -10..10; anything else is treated as not implemented. */
export const SUNSSF_MIN = -10;
export const SUNSSF_MAX = 10;

const U16 = 0xffff;
const U32 = 0xffffffff;
const U64 = 0xffffffffffffffffn;

function sentinelRule(layout: PointLayout): SentinelRule {
  return layout.sentinels ?? 'sunspec';
}

function swapBytes(w: number): number {
  return ((w & 0xff) << 8) | ((w >> 8) & 0xff);
}

/** The value's registers in most-significant-first order, bytes big-endian. */
function orderedWords(layout: PointLayout, regs: ArrayLike<number>, offset: number, size: number): number[] {
  if (offset < 0 || offset + size > regs.length) {
    throw new RangeError(
      `a ${layout.type} needs ${size} register(s) at offset ${offset}, only ${regs.length} were read`,
    );
  }
  const words: number[] = [];
  for (let i = 0; i < size; i++) {
    const w = (regs[offset + i] as number) & U16;
    words.push(layout.byteOrder === 'little' ? swapBytes(w) : w);
  }
  if (layout.wordOrder === 'little' && layout.type !== 'string') words.reverse();
  return words;
}

function toUint32(words: number[]): number {
  return (((words[0] as number) << 16) | (words[1] as number)) >>> 0;
}

function toUint64(words: number[]): bigint {
  let v = 0n;
  for (const w of words) v = (v << 16n) | BigInt(w);
  return v;
}

function wordsToBytes(words: number[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 2);
  words.forEach((w, i) => {
    bytes[2 * i] = (w >> 8) & 0xff;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

const utf8Decoder = new TextDecoder('utf-8');

/**
 * Decodes the raw value of one point from `regs` starting at `offset` (no scale applied).
 * Integers up to 32 bits come back as numbers, 64-bit integers as bigint, strings as strings,
 * `ipaddr` as dotted quad and `eui48` as colon hex. Sentinels, NaN and infinities give null.
 */
export function decodeRaw(layout: PointLayout, regs: ArrayLike<number>, offset = 0): RawValue {
  const size = pointSize(layout);
  const words = orderedWords(layout, regs, offset, size);
  const sunspec = sentinelRule(layout) === 'sunspec';
  const w0 = words[0] as number;
  switch (layout.type) {
    case 'int16':
      return sunspec && w0 === 0x8000 ? null : (w0 << 16) >> 16;
    case 'sunssf': {
      if (w0 === 0x8000) return null;
      const sf = (w0 << 16) >> 16;
      return sf < SUNSSF_MIN || sf > SUNSSF_MAX ? null : sf;
    }
    case 'uint16':
    case 'enum16':
    case 'bitfield16':
      return sunspec && w0 === U16 ? null : w0;
    case 'acc16':
      return sunspec && w0 === 0 ? null : w0;
    case 'count':
      return w0;
    case 'pad':
      return null;
    case 'int32': {
      const u = toUint32(words);
      return sunspec && u === 0x80000000 ? null : u | 0;
    }
    case 'uint32':
    case 'enum32':
    case 'bitfield32': {
      const u = toUint32(words);
      return sunspec && u === U32 ? null : u;
    }
    case 'acc32': {
      const u = toUint32(words);
      return sunspec && u === 0 ? null : u;
    }
    case 'int64': {
      const u = toUint64(words);
      return sunspec && u === 0x8000000000000000n ? null : BigInt.asIntN(64, u);
    }
    case 'uint64':
    case 'bitfield64': {
      const u = toUint64(words);
      return sunspec && u === U64 ? null : u;
    }
    case 'acc64': {
      const u = toUint64(words);
      return sunspec && u === 0n ? null : u;
    }
    case 'float32': {
      const v = new DataView(wordsToBytes(words).buffer).getFloat32(0, false);
      return Number.isFinite(v) ? v : null;
    }
    case 'float64': {
      const v = new DataView(wordsToBytes(words).buffer).getFloat64(0, false);
      return Number.isFinite(v) ? v : null;
    }
    case 'string': {
      const bytes = wordsToBytes(words);
      const end = bytes.indexOf(0);
      const text = utf8Decoder.decode(end === -1 ? bytes : bytes.subarray(0, end)).replace(/[\s\0]+$/, '');
      return text === '' && sunspec ? null : text;
    }
    case 'ipaddr': {
      const u = toUint32(words);
      if (sunspec && u === 0) return null;
      return [u >>> 24, (u >>> 16) & 0xff, (u >>> 8) & 0xff, u & 0xff].join('.');
    }
    case 'eui48': {
      const u = toUint64(words);
      if (sunspec && u === U64) return null;
      const hex = (u & 0xffffffffffffn).toString(16).padStart(12, '0');
      return hex.match(/../g)!.join(':');
    }
  }
}

/** The raw register value each type uses for "not implemented" (what `encodeRaw(layout, null)` writes). */
function sentinelWords(layout: PointLayout, size: number): number[] {
  const words = new Array<number>(size).fill(0);
  switch (layout.type) {
    case 'int16':
    case 'sunssf':
    case 'pad':
      words[0] = 0x8000;
      break;
    case 'uint16':
    case 'enum16':
    case 'bitfield16':
    case 'uint32':
    case 'enum32':
    case 'bitfield32':
    case 'uint64':
    case 'bitfield64':
    case 'eui48':
      words.fill(U16);
      break;
    case 'int32':
    case 'int64':
      words[0] = 0x8000;
      break;
    case 'float32':
      words[0] = 0x7fc0;
      break;
    case 'float64':
      words[0] = 0x7ff8;
      break;
    // acc*, string, ipaddr, count: all zeros.
  }
  return words;
}

function intWords(value: bigint, size: number): number[] {
  const words: number[] = [];
  let v = BigInt.asUintN(size * 16, value);
  for (let i = 0; i < size; i++) {
    words.unshift(Number(v & 0xffffn));
    v >>= 16n;
  }
  return words;
}

function asBigInt(layout: PointLayout, value: RawValue): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new TypeError(`a ${layout.type} value must be an integer, got ${String(value)}`);
}

function checkRange(layout: PointLayout, v: bigint, min: bigint, max: bigint): void {
  if (v < min || v > max) {
    throw new RangeError(`${String(v)} does not fit a ${layout.type} (${String(min)}..${String(max)})`);
  }
}

function finishWords(layout: PointLayout, words: number[]): Uint16Array {
  // Undo what decoding does: words are most-significant-first and big-endian here.
  if (layout.wordOrder === 'little' && layout.type !== 'string') words.reverse();
  return Uint16Array.from(words, (w) => (layout.byteOrder === 'little' ? swapBytes(w) : w));
}

/**
 * Encodes a raw value (the inverse of decodeRaw). `null` writes the type's "not implemented"
 * sentinel. Throws RangeError for values that do not fit the type.
 */
export function encodeRaw(layout: PointLayout, value: RawValue): Uint16Array {
  const size = pointSize(layout);
  if (value === null) return finishWords(layout, sentinelWords(layout, size));
  const t = layout.type;
  switch (t) {
    case 'int16':
    case 'sunssf': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, -0x8000n, 0x7fffn);
      return finishWords(layout, intWords(v, 1));
    }
    case 'uint16':
    case 'enum16':
    case 'bitfield16':
    case 'acc16':
    case 'count':
    case 'pad': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, 0n, 0xffffn);
      return finishWords(layout, intWords(v, 1));
    }
    case 'int32': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, -0x80000000n, 0x7fffffffn);
      return finishWords(layout, intWords(v, 2));
    }
    case 'uint32':
    case 'enum32':
    case 'bitfield32':
    case 'acc32': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, 0n, 0xffffffffn);
      return finishWords(layout, intWords(v, 2));
    }
    case 'int64': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, -(1n << 63n), (1n << 63n) - 1n);
      return finishWords(layout, intWords(v, 4));
    }
    case 'uint64':
    case 'bitfield64':
    case 'acc64': {
      const v = asBigInt(layout, value);
      checkRange(layout, v, 0n, U64);
      return finishWords(layout, intWords(v, 4));
    }
    case 'float32':
    case 'float64': {
      if (typeof value !== 'number')
        throw new TypeError(`a ${t} value must be a number, got ${typeof value}`);
      const bytes = new Uint8Array(t === 'float32' ? 4 : 8);
      const view = new DataView(bytes.buffer);
      if (t === 'float32') view.setFloat32(0, value, false);
      else view.setFloat64(0, value, false);
      const words: number[] = [];
      for (let i = 0; i < bytes.length; i += 2) words.push(view.getUint16(i, false));
      return finishWords(layout, words);
    }
    case 'string': {
      if (typeof value !== 'string')
        throw new TypeError(`a string value must be a string, got ${typeof value}`);
      const bytes = new TextEncoder().encode(value);
      if (bytes.length > size * 2) {
        throw new RangeError(`"${value}" needs ${bytes.length} bytes, the point holds ${size * 2}`);
      }
      const padded = new Uint8Array(size * 2);
      padded.set(bytes);
      const words: number[] = [];
      for (let i = 0; i < padded.length; i += 2)
        words.push(((padded[i] as number) << 8) | (padded[i + 1] as number));
      return finishWords(layout, words);
    }
    case 'ipaddr': {
      const parts = typeof value === 'string' ? value.split('.').map(Number) : [];
      if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
        throw new TypeError(`an ipaddr value must be a dotted quad like 192.168.1.10, got ${String(value)}`);
      }
      const [a, b, c, d] = parts as [number, number, number, number];
      return finishWords(layout, [(a << 8) | b, (c << 8) | d]);
    }
    case 'eui48': {
      const hex = typeof value === 'string' ? value.replace(/[:-]/g, '') : '';
      if (!/^[0-9a-fA-F]{12}$/.test(hex)) {
        throw new TypeError(
          `an eui48 value must be six hex bytes like 00:11:22:33:44:55, got ${String(value)}`,
        );
      }
      return finishWords(layout, intWords(BigInt(`0x${hex}`), 4));
    }
  }
}

/**
 * raw × 10^exp as a number. Dividing by 10^-exp (rather than multiplying by 0.1…) gives the
 * double nearest the decimal value, so 2305 with exp -1 is exactly 230.5.
 */
export function scaleValue(raw: number | bigint, exp: number, factor = 1): number {
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  const scaled = exp >= 0 ? n * 10 ** exp : n / 10 ** -exp;
  return factor === 1 ? scaled : scaled * factor;
}

/** What a point decodes to: the raw value, the scale exponent used, and the scaled value. */
export interface DecodedValue {
  readonly raw: RawValue;
  /** The total power-of-ten exponent applied (static scaleExp + SunSpec sf), null if the sf was missing. */
  readonly exp: number | null;
  readonly value: number | string | null;
}

/**
 * Decodes a point and applies its scale: value = raw × 10^(scaleExp + sf) × scaleFactor.
 * `sf` is the value of the point's SunSpec scale-factor point (required when `point.sf` is set;
 * null or undefined there gives a null value, since an unscaled number would be wrong).
 */
export function decodePoint(
  point: ScaledLayout,
  regs: ArrayLike<number>,
  offset = 0,
  sf?: number | null,
): DecodedValue {
  const raw = decodeRaw(point, regs, offset);
  let exp: number | null = point.scaleExp ?? 0;
  if (point.sf !== undefined) exp = sf === null || sf === undefined ? null : exp + sf;
  if (raw === null || typeof raw === 'string') return { raw, exp, value: raw };
  if (
    point.type === 'sunssf' ||
    point.type === 'count' ||
    point.type.startsWith('bitfield') ||
    point.type.startsWith('enum')
  ) {
    return { raw, exp: 0, value: typeof raw === 'bigint' ? Number(raw) : raw };
  }
  if (exp === null) return { raw, exp, value: null };
  return { raw, exp, value: scaleValue(raw, exp, point.scaleFactor ?? 1) };
}

/**
 * Encodes an engineering value for a point (what the simulators write): raw = value / 10^(scaleExp
 * + sf) / scaleFactor, rounded half away from zero for integer types. A bigint value is taken as
 * already integral and divided exactly. null writes the "not implemented" sentinel.
 */
export function encodePoint(
  point: ScaledLayout,
  value: number | bigint | string | null,
  sf = 0,
): Uint16Array {
  if (value === null || typeof value === 'string') return encodeRaw(point, value);
  const exp = (point.scaleExp ?? 0) + sf;
  const factor = point.scaleFactor ?? 1;
  if (point.type === 'float32' || point.type === 'float64') {
    const n = typeof value === 'bigint' ? Number(value) : value;
    return encodeRaw(point, exp >= 0 ? n / 10 ** exp / factor : (n * 10 ** -exp) / factor);
  }
  if (typeof value === 'bigint' && factor === 1) return encodeRaw(point, divRoundHalfAway(value, exp));
  const n = typeof value === 'bigint' ? Number(value) : value;
  const unscaled = (exp >= 0 ? n / 10 ** exp : n * 10 ** -exp) / factor;
  return encodeRaw(point, roundHalfAway(unscaled));
}

function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

function divRoundHalfAway(v: bigint, exp: number): bigint {
  if (exp <= 0) return v * 10n ** BigInt(-exp);
  const d = 10n ** BigInt(exp);
  const q = v / d;
  const r = v % d;
  if (2n * (r < 0n ? -r : r) >= d) return v < 0n ? q - 1n : q + 1n;
  return q;
}

/**
 * Integer-exact raw × 10^exp for counters (energy in Wh), without floating point. When exp < 0 the
 * result is rounded toward negative infinity (floor): a counter then never claims energy it has not
 * yet counted, and floor keeps a growing counter growing (it is monotonic).
 */
export function integerCounter(raw: number | bigint, exp: number): bigint {
  if (!Number.isInteger(exp)) throw new RangeError(`a scale exponent must be an integer, got ${exp}`);
  const r = typeof raw === 'bigint' ? raw : BigInt(integerOrThrow(raw));
  if (exp >= 0) return r * 10n ** BigInt(exp);
  const d = 10n ** BigInt(-exp);
  const q = r / d;
  return r < 0n && q * d !== r ? q - 1n : q;
}

function integerOrThrow(n: number): number {
  if (!Number.isSafeInteger(n))
    throw new RangeError(`a counter's raw value must be a safe integer, got ${n}`);
  return n;
}

/**
 * A counter value in whole units (Wh) as a JavaScript number, for signed payloads. Integer raws go
 * through integerCounter (exact, floor); float raws (a float32 kWh register) are rounded to the
 * nearest unit, since the float is itself the nearest binary value to a decimal reading (floor
 * would turn 1.234 kWh, stored as 1.2339999…, into 1233 Wh). Throws if the result is not a safe
 * integer.
 */
export function counterUnits(raw: number | bigint, exp: number, isFloat: boolean): number {
  let v: number;
  if (isFloat) {
    if (typeof raw !== 'number' || !Number.isFinite(raw))
      throw new RangeError(`not a finite counter: ${String(raw)}`);
    v = Math.round(scaleValue(raw, exp));
  } else {
    v = Number(integerCounter(raw, exp));
  }
  if (!Number.isSafeInteger(v)) throw new RangeError(`counter value ${v} is beyond the safe integer range`);
  return v;
}
