import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, messageHash, sha256, utf8 } from '../../protocol/index.js';
import { leafHashOf, messageHashOf, sha256Of } from './hashes.js';

describe('node:crypto hashes', () => {
  it("equal protocol's leafHash, messageHash and sha256 on any string or bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.uint8Array(), (s, bytes) => {
        expect(leafHashOf(s)).toEqual(leafHash(utf8(s)));
        expect(messageHashOf(s)).toEqual(messageHash(s));
        expect(sha256Of(bytes)).toEqual(sha256(bytes));
      }),
      { numRuns: 300 },
    );
  });
});
