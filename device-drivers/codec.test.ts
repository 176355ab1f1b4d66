import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counterUnits,
  decodePoint,
  decodeRaw,
  encodePoint,
  encodeRaw,
  integerCounter,
  pointSize,
  scaleValue,
} from './codec.js';
import type { ByteOrder, PointLayout, PointType, WordOrder } from './points.js';

const orders = fc.record({
  wordOrder: fc.constantFrom<WordOrder>('big', 'little'),
  byteOrder: fc.constantFrom<ByteOrder>('big', 'little'),
});

describe('decodeRaw: known register images', () => {
  it('reads float32 230.5 in all four orders', () => {
    // 230.5 = 0x43668000
    expect(decodeRaw({ type: 'float32' }, [0x4366, 0x8000])).toBe(230.5);
    expect(decodeRaw({ type: 'float32', wordOrder: 'little' }, [0x8000, 0x4366])).toBe(230.5);
    expect(decodeRaw({ type: 'float32', byteOrder: 'little' }, [0x6643, 0x0080])).toBe(230.5);
    expect(decodeRaw({ type: 'float32', wordOrder: 'little', byteOrder: 'little' }, [0x0080, 0x6643])).toBe(
      230.5,
    );
  });

  it('reads signed and unsigned integers', () => {
    expect(decodeRaw({ type: 'int16' }, [0xfffe])).toBe(-2);
    expect(decodeRaw({ type: 'uint16' }, [0xfffe])).toBe(0xfffe);
    expect(decodeRaw({ type: 'int32' }, [0xffff, 0xfffe])).toBe(-2);
    expect(decodeRaw({ type: 'uint32' }, [0x0001, 0x0002])).toBe(0x10002);
    expect(decodeRaw({ type: 'uint32', wordOrder: 'little' }, [0x0002, 0x0001])).toBe(0x10002);
    expect(decodeRaw({ type: 'acc64' }, [0, 0, 1, 0])).toBe(65536n);
    expect(decodeRaw({ type: 'int64' }, [0xffff, 0xffff, 0xffff, 0xfffd])).toBe(-3n);
    expect(decodeRaw({ type: 'uint64' }, [0x0010, 0, 0, 0])).toBe(0x0010_0000_0000_0000n);
  });

  it('reads strings up to the first NUL, trimming trailing spaces', () => {
    const regs = encodeRaw({ type: 'string', size: 4 }, 'SunS');
    expect(Array.from(regs)).toEqual([0x5375, 0x6e53, 0, 0]);
    expect(decodeRaw({ type: 'string', size: 4 }, [0x4142, 0x4320, 0x2000, 0x0000])).toBe('ABC');
    expect(decodeRaw({ type: 'string', size: 2, byteOrder: 'little' }, [0x4241, 0x0043])).toBe('ABC');
  });

  it('reads offsets inside a longer response and refuses to read past it', () => {
    expect(decodeRaw({ type: 'uint16' }, [1, 2, 3], 2)).toBe(3);
    expect(() => decodeRaw({ type: 'uint32' }, [1, 2, 3], 2)).toThrow(/needs 2 register\(s\) at offset 2/);
  });

  it('reads ipaddr and eui48', () => {
    expect(decodeRaw({ type: 'ipaddr' }, [0xc0a8, 0x010a])).toBe('192.168.1.10');
    expect(decodeRaw({ type: 'eui48' }, [0, 0x0011, 0x2233, 0x4455])).toBe('00:11:22:33:44:55');
  });

  it('needs a size for strings', () => {
    expect(() => pointSize({ type: 'string' })).toThrow(/needs a size/);
    expect(pointSize({ type: 'acc64' })).toBe(4);
  });
});

describe('not-implemented sentinels decode to null, never a number', () => {
  const cases: Array<[PointType, number[]]> = [
    ['int16', [0x8000]],
    ['uint16', [0xffff]],
    ['acc16', [0]],
    ['enum16', [0xffff]],
    ['bitfield16', [0xffff]],
    ['sunssf', [0x8000]],
    ['pad', [0x8000]],
    ['int32', [0x8000, 0]],
    ['uint32', [0xffff, 0xffff]],
    ['acc32', [0, 0]],
    ['enum32', [0xffff, 0xffff]],
    ['bitfield32', [0xffff, 0xffff]],
    ['int64', [0x8000, 0, 0, 0]],
    ['uint64', [0xffff, 0xffff, 0xffff, 0xffff]],
    ['acc64', [0, 0, 0, 0]],
    ['float32', [0x7fc0, 0]],
    ['float64', [0x7ff8, 0, 0, 0]],
    ['ipaddr', [0, 0]],
    ['eui48', [0xffff, 0xffff, 0xffff, 0xffff]],
  ];
  for (const [type, regs] of cases) {
    it(`${type} ${regs.map((r) => r.toString(16)).join(' ')} → null, and null encodes to it`, () => {
      expect(decodeRaw({ type }, regs)).toBeNull();
      expect(decodeRaw({ type }, encodeRaw({ type }, null))).toBeNull();
    });
  }

  it('a string of zeros is null', () => {
    expect(decodeRaw({ type: 'string', size: 8 }, new Uint16Array(8))).toBeNull();
  });

  it('float infinities are null even without SunSpec sentinels', () => {
    expect(decodeRaw({ type: 'float32', sentinels: 'none' }, [0x7f80, 0])).toBeNull();
    expect(decodeRaw({ type: 'float32', sentinels: 'none' }, [0xff80, 0])).toBeNull();
  });

  it('sunssf outside -10..10 is treated as not implemented', () => {
    expect(decodeRaw({ type: 'sunssf' }, [11])).toBeNull();
    expect(decodeRaw({ type: 'sunssf' }, [0xfff6])).toBe(-10);
  });

  it("with sentinels 'none' the same words are values (a fresh meter's 0 Wh)", () => {
    expect(decodeRaw({ type: 'acc32', sentinels: 'none' }, [0, 0])).toBe(0);
    expect(decodeRaw({ type: 'uint16', sentinels: 'none' }, [0xffff])).toBe(0xffff);
    expect(decodeRaw({ type: 'int32', sentinels: 'none' }, [0x8000, 0])).toBe(-0x80000000);
  });
});

describe('round trips (property)', () => {
  const intTypes: Array<[PointType, bigint, bigint, bigint[]]> = [
    ['int16', -0x8000n, 0x7fffn, [-0x8000n]],
    ['uint16', 0n, 0xffffn, [0xffffn]],
    ['acc16', 0n, 0xffffn, [0n]],
    ['count', 0n, 0xffffn, []],
    ['int32', -0x80000000n, 0x7fffffffn, [-0x80000000n]],
    ['uint32', 0n, 0xffffffffn, [0xffffffffn]],
    ['acc32', 0n, 0xffffffffn, [0n]],
    ['bitfield32', 0n, 0xffffffffn, [0xffffffffn]],
    ['int64', -(1n << 63n), (1n << 63n) - 1n, [-(1n << 63n)]],
    ['uint64', 0n, (1n << 64n) - 1n, [(1n << 64n) - 1n]],
    ['acc64', 0n, (1n << 64n) - 1n, [0n]],
  ];
  for (const [type, min, max, sentinels] of intTypes) {
    it(`${type} decodes what it encodes, in every word and byte order`, () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min, max }).filter((v) => !sentinels.includes(v)),
          orders,
          (v, o) => {
            const layout: PointLayout = { type, ...o };
            const regs = encodeRaw(layout, v);
            expect(regs.length).toBe(pointSize(layout));
            const back = decodeRaw(layout, regs);
            expect(typeof back === 'bigint' ? back : BigInt(back as number)).toBe(v);
          },
        ),
      );
    });
    it(`${type} refuses values outside its range`, () => {
      expect(() => encodeRaw({ type }, max + 1n)).toThrow(RangeError);
      expect(() => encodeRaw({ type }, min - 1n)).toThrow(RangeError);
    });
  }

  it('float32 decodes what it encodes (after rounding to float32)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), orders, (v, o) => {
        expect(decodeRaw({ type: 'float32', ...o }, encodeRaw({ type: 'float32', ...o }, v))).toBe(
          Math.fround(v),
        );
      }),
    );
  });

  it('float64 decodes what it encodes', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), orders, (v, o) => {
        expect(decodeRaw({ type: 'float64', ...o }, encodeRaw({ type: 'float64', ...o }, v))).toBe(v);
      }),
    );
  });

  it('strings decode what they encode', () => {
    const text = fc
      .string({
        unit: fc.constantFrom(
          ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_. '.split(''),
        ),
      })
      .map((s) => s.trimEnd())
      .filter((s) => s.length > 0 && s.length <= 16);
    fc.assert(
      fc.property(text, fc.constantFrom<ByteOrder>('big', 'little'), (s, byteOrder) => {
        const layout: PointLayout = { type: 'string', size: 8, byteOrder };
        expect(decodeRaw(layout, encodeRaw(layout, s))).toBe(s);
      }),
    );
  });

  it('refuses a string longer than the point', () => {
    expect(() => encodeRaw({ type: 'string', size: 1 }, 'abc')).toThrow(/needs 3 bytes, the point holds 2/);
  });
});

describe('scale factors', () => {
  it('applies SunSpec sf as value × 10^sf', () => {
    const point = { type: 'int16' as const, sf: 'W_SF' };
    expect(decodePoint(point, [2305], 0, -1)).toEqual({ raw: 2305, exp: -1, value: 230.5 });
    expect(decodePoint(point, [12], 0, 2)).toEqual({ raw: 12, exp: 2, value: 1200 });
  });

  it('a missing or not-implemented sf gives null, not an unscaled number', () => {
    const point = { type: 'int16' as const, sf: 'W_SF' };
    expect(decodePoint(point, [2305], 0, null).value).toBeNull();
    expect(decodePoint(point, [2305], 0, undefined).value).toBeNull();
  });

  it('combines a static exponent with the sf and a non-decimal factor', () => {
    expect(decodePoint({ type: 'uint32', scaleExp: 1 }, [0, 5]).value).toBe(50);
    expect(decodePoint({ type: 'uint16', scaleFactor: 0.5 }, [7]).value).toBe(3.5);
    expect(decodePoint({ type: 'float32', scaleExp: 3 }, encodeRaw({ type: 'float32' }, 1.5)).value).toBe(
      1500,
    );
  });

  it('enums, bitfields and counts are never scaled', () => {
    expect(decodePoint({ type: 'enum16', scaleExp: 3 }, [4]).value).toBe(4);
  });

  it('encodePoint is the inverse of decodePoint for scaled integers (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffffffe }), fc.integer({ min: -4, max: 4 }), (raw, sf) => {
        fc.pre(raw !== 0);
        const point = { type: 'acc32' as const, sf: 'X_SF' };
        const value = decodePoint(point, encodeRaw(point, raw), 0, sf).value as number;
        expect(decodeRaw(point, encodePoint(point, value, sf))).toBe(raw);
      }),
    );
  });

  it('encodePoint rounds half away from zero and writes sentinels for null', () => {
    expect(Array.from(encodePoint({ type: 'int16' }, -2.5, 0))).toEqual([0xfffd]);
    expect(Array.from(encodePoint({ type: 'int16' }, 230.46, -1))).toEqual([2305]);
    expect(Array.from(encodePoint({ type: 'acc32' }, 12_345_678_901n, 1))).toEqual(
      Array.from(encodeRaw({ type: 'acc32' }, 1_234_567_890n)),
    );
    expect(Array.from(encodePoint({ type: 'uint16' }, null))).toEqual([0xffff]);
  });

  it('scaleValue divides for negative exponents (no 0.1 drift)', () => {
    expect(scaleValue(2305, -1)).toBe(230.5);
    expect(scaleValue(3n, -3)).toBe(0.003);
  });
});

describe('integer counters (Wh for proofs)', () => {
  it('multiplies exactly for sf ≥ 0, beyond 2^53', () => {
    expect(integerCounter(123456789n, 3)).toBe(123456789000n);
    expect(integerCounter(0xffffffffffffffffn, 2)).toBe(0xffffffffffffffffn * 100n);
  });

  it('floors for sf < 0, including negative raws', () => {
    expect(integerCounter(12345, -1)).toBe(1234n);
    expect(integerCounter(-12345, -1)).toBe(-1235n);
    expect(integerCounter(-12340, -1)).toBe(-1234n);
  });

  it('floor is exact and monotonic (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
        fc.integer({ min: -9, max: 0 }),
        (raw, exp) => {
          const q = integerCounter(raw, exp);
          const d = 10n ** BigInt(-exp);
          expect(q * d <= raw && raw < (q + 1n) * d).toBe(true);
          expect(integerCounter(raw + 1n, exp) >= q).toBe(true);
        },
      ),
    );
  });

  it('refuses a non-integer raw or exponent', () => {
    expect(() => integerCounter(1.5, 0)).toThrow(RangeError);
    expect(() => integerCounter(1, 0.5)).toThrow(RangeError);
  });

  it('counterUnits rounds float kWh to the nearest Wh', () => {
    const kwh = decodeRaw({ type: 'float32' }, encodeRaw({ type: 'float32' }, 1.234)) as number;
    expect(kwh).not.toBe(1.234);
    expect(counterUnits(kwh, 3, true)).toBe(1234);
    expect(counterUnits(12345, -1, false)).toBe(1234);
    expect(() => counterUnits(2n ** 60n, 0, false)).toThrow(/safe integer/);
  });
});
