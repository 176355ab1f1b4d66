import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b32, b64, b64url, bytesEqual, concatBytes, fromHex, fromUtf8, hex, utf8 } from './bytes.js';

describe('byte encodings', () => {
  it('round-trips every encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        for (const coder of [b64url, b64, b32])
          expect(hex(coder.decode(coder.encode(bytes)))).toBe(hex(bytes));
        expect(hex(fromHex(hex(bytes)))).toBe(hex(bytes));
      }),
    );
  });

  it('refuses non-canonical spellings, so one value has one text', () => {
    // "AB" and "AA" with non-zero trailing bits: "AB" decodes to the same byte as "AA" in lax decoders.
    expect(b64url.encode(Uint8Array.of(0))).toBe('AA');
    expect(() => b64url.decode('AB')).toThrow();
    expect(() => b64url.decode('AA==')).toThrow();
    expect(() => b64url.decode('A+')).toThrow();
    expect(() => b64.decode('AA')).toThrow();
    expect(() => b32.decode('AE')).toThrow();
  });

  it('concatenates, compares and decodes UTF-8 strictly', () => {
    expect(hex(concatBytes(Uint8Array.of(1), Uint8Array.of(), Uint8Array.of(2, 3)))).toBe('010203');
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
    expect(fromUtf8(utf8('Wh ⚡'))).toBe('Wh ⚡');
    expect(() => fromUtf8(Uint8Array.of(0xff))).toThrow();
  });
});
