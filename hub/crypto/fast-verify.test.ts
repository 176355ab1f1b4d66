// The hub's node:crypto signature check must give protocol's verifyJws answers on the same input.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  b64url,
  deriveId,
  generateSecretKey,
  publicKeyOf,
  signBytes,
  signJws,
  verifyBytes,
  verifyJws,
} from '../../protocol/index.js';
import { Ed25519Verifier } from './fast-verify.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leBytesToBig(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}
function bigToLe(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

interface VectorKey {
  id: string;
  publicKey: string;
}
interface VectorMessage {
  typ: string;
  kid: string;
  compact: string;
}
const vectors = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../test/vectors/${name}`, import.meta.url), 'utf8'));

describe('Ed25519Verifier (node:crypto)', () => {
  const fast = new Ed25519Verifier();

  it("agrees with verifyJws on the protocol's message vectors, intact and with each signature byte flipped", () => {
    const keys = new Map(
      (vectors('keys.json') as { keys: VectorKey[] }).keys.map((k) => [k.id, b64url.decode(k.publicKey)]),
    );
    const messages = (vectors('messages.json') as { messages: VectorMessage[] }).messages;
    expect(messages.length).toBeGreaterThan(5);
    const publicKeyFor = (kid: string) => keys.get(kid);
    for (const m of messages) {
      const slow = verifyJws(m.compact, { publicKeyFor, typ: m.typ, kid: m.kid });
      const quick = fast.verifyJws(m.compact, { publicKeyFor, typ: m.typ, kid: m.kid });
      expect(slow.ok, m.typ).toBe(true);
      expect(quick.ok, m.typ).toBe(true);
      const sigStart = m.compact.lastIndexOf('.') + 1;
      for (let i = sigStart; i < m.compact.length; i += 7) {
        const c = m.compact[i] === 'A' ? 'B' : 'A';
        const bad = m.compact.slice(0, i) + c + m.compact.slice(i + 1);
        const s = verifyJws(bad, { publicKeyFor });
        const q = fast.verifyJws(bad, { publicKeyFor });
        expect(q.ok).toBe(s.ok);
        if (!q.ok && !s.ok) expect(q.reason).toBe(s.reason);
      }
    }
  });

  it('agrees with verifyJws on random messages and on every single-byte tampering of them', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.jsonValue(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (seed, payload, at, xor) => {
          const pub = publicKeyOf(seed);
          const kid = deriveId('gw', pub);
          const keys = (k: string) => (k === kid ? pub : undefined);
          let jws: string;
          try {
            jws = signJws('wattproof.test.v1', kid, payload, seed);
          } catch {
            return; // payloads JSON cannot represent exactly (e.g. -0) are not signable
          }
          const bytes = Buffer.from(jws, 'ascii');
          const i = at % bytes.length;
          bytes[i] = bytes[i]! ^ xor;
          for (const candidate of [jws, bytes.toString('latin1')]) {
            const slow = verifyJws(candidate, { publicKeyFor: keys, kid });
            const quick = fast.verifyJws(candidate, { publicKeyFor: keys, kid });
            expect(quick.ok).toBe(slow.ok);
            if (!slow.ok && !quick.ok) expect(quick.reason).toBe(slow.reason);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with verifyBytes on edge cases: non-canonical S, wrong lengths, a key that is not a point', () => {
    const secret = generateSecretKey();
    const pub = publicKeyOf(secret);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = signBytes(msg, secret);
    const sPlusL = new Uint8Array(sig);
    sPlusL.set(bigToLe(leBytesToBig(sig.subarray(32)) + L, 32), 32);
    const notAPoint = b64url.decode('AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'); // y = 2 has no x
    const cases: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
      [sig, msg, pub],
      [sPlusL, msg, pub],
      [sig.subarray(0, 63), msg, pub],
      [sig, msg, pub.subarray(0, 31)],
      [sig, msg, notAPoint],
      [sig, new Uint8Array([1, 2, 4]), pub],
    ];
    for (const [s, m, k] of cases) expect(fast.verifyBytes(s, m, k)).toBe(verifyBytes(s, m, k));
    expect(fast.verifyBytes(sig, msg, pub)).toBe(true);
  });
});
