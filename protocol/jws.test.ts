import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64url, fromHex, utf8 } from './bytes.js';
import { gatewayIdOf } from './identity.js';
import {
  canonicalJson,
  decodeJwsUnverified,
  type JwsRejectReason,
  signingInput,
  signJws,
  verifyCompactSignature,
  verifyJws,
} from './jws.js';
import { publicKeyOf, signBytes } from './keys.js';

const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const pub = publicKeyOf(secret);
const kid = gatewayIdOf(pub);
const otherSecret = fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
const otherKid = gatewayIdOf(publicKeyOf(otherSecret));
const keys = new Map([
  [kid, pub],
  [otherKid, publicKeyOf(otherSecret)],
]);
const TYP = 'wattproof.meter-proof.v1';
const payload = { gw: kid, seq: 3, importWh: { start: 1000, end: 1250 } };
const opts = { typ: TYP, kid, publicKeyFor: (k: string) => keys.get(k) };

/** Builds a compact JWS from raw header and payload texts, signed correctly by `secret`. */
function craft(headerText: string, payloadText: string, key = secret): string {
  const h = b64url.encode(utf8(headerText));
  const p = b64url.encode(utf8(payloadText));
  return `${h}.${p}.${b64url.encode(signBytes(signingInput(h, p), key))}`;
}

function reasonOf(compact: unknown, o: Parameters<typeof verifyJws>[1] = opts): JwsRejectReason | 'ok' {
  const r = verifyJws(compact, o);
  return r.ok ? 'ok' : r.reason;
}

describe('JWS compact, EdDSA', () => {
  it('verifies the RFC 8037 appendix A.4 example', () => {
    const x = b64url.decode('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo');
    const d = b64url.decode('nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A');
    expect(b64url.encode(publicKeyOf(d))).toBe(b64url.encode(x));
    const compact =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    expect(verifyCompactSignature(compact, x)).toBe(true);
    // Signing the same input here gives the same bytes (Ed25519 is deterministic).
    const [h, p, s] = compact.split('.') as [string, string, string];
    expect(b64url.encode(signBytes(signingInput(h, p), d))).toBe(s);
    expect(verifyCompactSignature(`${h}.${p}.${s.slice(0, -2)}AA`, x)).toBe(false);
    // It is a valid JWS but not a Wattproof message: its header has no typ or kid.
    expect(reasonOf(compact, { publicKeyFor: () => x })).toBe('header-fields');
  });

  it('signs the exact JSON.stringify bytes and verifies them back', () => {
    const compact = signJws(TYP, kid, payload, secret);
    const r = verifyJws(compact, opts);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header).toEqual({ alg: 'EdDSA', typ: TYP, kid });
    expect(r.payload).toEqual(payload);
    expect(new TextDecoder().decode(r.payloadBytes)).toBe(JSON.stringify(payload));
    expect(decodeJwsUnverified(compact)?.payload).toEqual(payload);
  });

  it('produces signatures that node:crypto verifies (any conforming verifier)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const compact = signJws(TYP, kid, value, secret);
        const [h, p, s] = compact.split('.') as [string, string, string];
        const key = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: b64url.encode(pub) },
          format: 'jwk',
        });
        expect(nodeVerify(null, signingInput(h, p), key, b64url.decode(s))).toBe(true);
        expect(verifyJws(compact, opts).ok).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('accepts a signature check passed in (the hub’s node:crypto one) and uses it', () => {
    const compact = signJws(TYP, kid, payload, secret);
    const calls: number[] = [];
    const r = verifyJws(compact, {
      ...opts,
      verifySignature: (sig) => {
        calls.push(sig.length);
        return false;
      },
    });
    expect(calls).toEqual([64]);
    expect(r.ok ? 'ok' : r.reason).toBe('bad-signature');
  });

  describe('every tampering is refused with its own reason', () => {
    const good = signJws(TYP, kid, payload, secret);
    const [h, p, s] = good.split('.') as [string, string, string];

    it('one byte of the payload → bad-signature', () => {
      const bytes = b64url.decode(p);
      for (let i = 0; i < bytes.length; i++) {
        const bent = bytes.slice();
        bent[i] = (bent[i] as number) ^ 0x01;
        expect(reasonOf(`${h}.${b64url.encode(bent)}.${s}`)).toBe('bad-signature');
      }
    });

    it('one byte of the signature → bad-signature', () => {
      const bytes = b64url.decode(s);
      for (let i = 0; i < bytes.length; i++) {
        const bent = bytes.slice();
        bent[i] = (bent[i] as number) ^ 0x80;
        expect(reasonOf(`${h}.${p}.${b64url.encode(bent)}`)).toBe('bad-signature');
      }
    });

    it('one byte of the header → refused, never accepted', () => {
      const bytes = b64url.decode(h);
      for (let i = 0; i < bytes.length; i++) {
        const bent = bytes.slice();
        bent[i] = (bent[i] as number) ^ 0x01;
        expect(reasonOf(`${b64url.encode(bent)}.${p}.${s}`)).not.toBe('ok');
      }
    });

    it('swapped typ → typ-mismatch (a proof signature cannot pass as another type)', () => {
      const asEvent = signJws('wattproof.fulfilment.v1', kid, payload, secret);
      expect(reasonOf(asEvent)).toBe('typ-mismatch');
      expect(reasonOf(asEvent, { ...opts, typ: ['wattproof.fulfilment.v1', TYP] })).toBe('ok');
    });

    it('another kid → kid-mismatch; an unbound kid → kid-unknown', () => {
      expect(reasonOf(signJws(TYP, otherKid, payload, otherSecret))).toBe('kid-mismatch');
      expect(
        reasonOf(signJws(TYP, 'gw-aaaaaaaaaaaaaaaa', payload, secret), { ...opts, kid: undefined }),
      ).toBe('kid-unknown');
      // Claiming another signer's kid with one's own key fails the signature.
      expect(reasonOf(signJws(TYP, kid, payload, otherSecret))).toBe('bad-signature');
    });

    it('structure, encodings and header fields', () => {
      const cases: Array<[unknown, JwsRejectReason]> = [
        [42, 'malformed'],
        [`${h}.${p}`, 'malformed'],
        [`${h}.${p}.${s}.`, 'malformed'],
        [`${h}.${p}.${s}=`, 'malformed'],
        [`${h}.${p}!.${s}`, 'malformed'],
        ['x'.repeat(70_000), 'too-large'],
        [craft('not json', JSON.stringify(payload)), 'header-not-json'],
        [craft('[1]', JSON.stringify(payload)), 'header-not-json'],
        [craft('{"alg":"EdDSA","typ":"t"}', '{}'), 'header-fields'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}","crit":["b64"]}`, '{}'), 'header-fields'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}","jwk":{}}`, '{}'), 'header-fields'],
        [craft(`{"alg":"EdDSA","typ":7,"kid":"${kid}"}`, '{}'), 'header-fields'],
        [craft(`{"alg":"none","typ":"${TYP}","kid":"${kid}"}`, '{}'), 'alg-not-eddsa'],
        [craft(`{"alg":"HS256","typ":"${TYP}","kid":"${kid}"}`, '{}'), 'alg-not-eddsa'],
        [craft(`{"alg": "EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{}'), 'not-canonical-json'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, 'not json'), 'payload-not-json'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{"seq":1,"seq":2}'), 'not-canonical-json'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{"wh":1.0}'), 'not-canonical-json'],
        [
          craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{"wh":12345678901234567890}'),
          'not-canonical-json',
        ],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{"a":"\\u0041"}'), 'not-canonical-json'],
        [craft(`{"alg":"EdDSA","typ":"${TYP}","kid":"${kid}"}`, '{ "a":1}'), 'not-canonical-json'],
      ];
      for (const [compact, reason] of cases)
        expect(reasonOf(compact), String(compact).slice(0, 120)).toBe(reason);
      // Header in another key order is still the shortest JSON of itself, so it is accepted.
      expect(reasonOf(craft(`{"kid":"${kid}","typ":"${TYP}","alg":"EdDSA"}`, '{}'))).toBe('ok');
    });

    it('never throws on arbitrary input', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.anything()), (junk) => {
          expect(verifyJws(junk, opts).ok).toBe(false);
          expect(decodeJwsUnverified(junk)).toBeUndefined();
        }),
        { numRuns: 300 },
      );
    });
  });

  it('canonicalJson refuses what JSON cannot carry exactly', () => {
    expect(canonicalJson({ a: 1 })).toBe('{"a":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson(undefined)).toThrow(/no JSON form/);
  });
});
