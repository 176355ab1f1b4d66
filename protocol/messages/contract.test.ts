import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { b64url, utf8 } from '../bytes.js';
import { sha256 } from '../hash.js';
import { signJws } from '../jws.js';
import {
  CONTRACT_TYP,
  contractCompacts,
  contractIdOf,
  parseContract,
  type SignedContract,
  signContract,
  signedContractFromCompacts,
  verifySignedContract,
} from './contract.js';
import { EXAMPLE_KEYS, exampleEnergyContract, exampleFlexibilityContract } from './examples.js';

const K = EXAMPLE_KEYS;
const keys = (kid: string) => Object.values(K).find((k) => k.id === kid)?.publicKey;
const paths = (p: unknown) => {
  const r = parseContract(p);
  return r.ok ? [] : r.issues.map((i) => i.path);
};

function bothSigned(): SignedContract {
  return signContract(
    signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
    K.buyer.id,
    K.buyer.secretKey,
  );
}

describe('contract payload', () => {
  it('accepts energy and flexibility contracts', () => {
    expect(parseContract(exampleEnergyContract()).ok).toBe(true);
    expect(parseContract(exampleFlexibilityContract()).ok).toBe(true);
  });
  it('refuses unaligned windows, unknown periods, duplicate points, empty sides, wrong product fields', () => {
    const c = exampleEnergyContract();
    expect(paths({ ...c, window: { start: c.window.start + 1, end: c.window.end } })).toEqual([
      'window.start',
    ]);
    expect(paths({ ...c, window: { start: c.window.start, end: c.window.end - 1 } })).toEqual(['window.end']);
    expect(paths({ ...c, window: { start: c.window.end, end: c.window.end } })).toEqual(['window.end']);
    expect(paths({ ...c, settlementPeriodMs: 600_000 })).toEqual(['settlementPeriodMs']);
    const dup = { ...c.deliveryPoints, seller: [...c.deliveryPoints.seller, ...c.deliveryPoints.seller] };
    expect(paths({ ...c, deliveryPoints: dup })).toEqual(['deliveryPoints.seller[1]']);
    expect(paths({ ...c, deliveryPoints: { ...c.deliveryPoints, buyer: [] } })).toEqual([
      'deliveryPoints.buyer',
    ]);
    expect(paths({ ...c, quantity: { wh: 0, per: 'interval' } })).toEqual(['quantity.wh']);
    expect(paths({ ...c, maxChargeW: 5 })).toEqual(['']);
    expect(paths({ ...c, product: 'options' })).toEqual(['product']);
    const f = exampleFlexibilityContract();
    expect(paths({ ...f, maxChargeW: 0, maxDischargeW: 0 })).toEqual(['maxDischargeW']);
  });
});

describe('signed contract (two JWS signatures over one payload)', () => {
  it('both parties sign the same payload bytes; the id is the hash of those bytes', () => {
    const s = bothSigned();
    expect(s.signatures).toHaveLength(2);
    const id = contractIdOf(s);
    expect(id).toBe(`ct-${b64url.encode(sha256(b64url.decode(s.payload)))}`);
    expect(contractIdOf(s.payload)).toBe(id);
    const v = verifySignedContract(s, keys);
    expect(v).toMatchObject({ ok: true, id, complete: true });
  });

  it('each signature is an ordinary EdDSA JWS that node:crypto verifies', () => {
    const s = bothSigned();
    const [seller, buyer] = contractCompacts(s) as [string, string];
    for (const [compact, key] of [
      [seller, K.seller],
      [buyer, K.buyer],
    ] as const) {
      const [h, p, sig] = compact.split('.') as [string, string, string];
      const pub = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: b64url.encode(key.publicKey) },
        format: 'jwk',
      });
      expect(verify(null, utf8(`${h}.${p}`), pub, b64url.decode(sig))).toBe(true);
    }
    // The seller's signature is exactly what signJws makes of the same payload.
    expect(seller).toBe(signJws(CONTRACT_TYP, K.seller.id, exampleEnergyContract(), K.seller.secretKey));
    expect(signedContractFromCompacts([seller, buyer])).toEqual(s);
  });

  it('refuses compacts that do not share a payload', () => {
    const [seller] = contractCompacts(bothSigned()) as [string];
    const other = signJws(
      CONTRACT_TYP,
      K.buyer.id,
      { ...exampleEnergyContract(), priceMinorPerKWh: 1 },
      K.buyer.secretKey,
    );
    expect(() => signedContractFromCompacts([seller, other])).toThrow(/share one payload/);
    expect(() => signedContractFromCompacts([])).toThrow(/share one payload/);
  });

  it('accepts a seller-only contract when asked, and refuses a third signature', () => {
    const one = signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey);
    expect(verifySignedContract(one, keys)).toMatchObject({ ok: false, reason: 'signature-count' });
    expect(verifySignedContract(one, keys, { requireBoth: false })).toMatchObject({
      ok: true,
      complete: false,
    });
    expect(() => signContract(bothSigned(), K.operator.id, K.operator.secretKey)).toThrow(/both signatures/);
  });

  it('refuses each kind of bad signed contract with its own reason', () => {
    const reasonOf = (x: unknown) => {
      const v = verifySignedContract(x, keys);
      return v.ok ? 'ok' : v.reason;
    };
    const s = bothSigned();
    expect(reasonOf({ ...s, header: {} })).toBe('malformed-contract');
    expect(
      reasonOf({
        payload: s.payload,
        signatures: [{ ...s.signatures[0], header: { kid: 'x' } }, s.signatures[1]],
      }),
    ).toBe('malformed-contract');
    // Signed in the wrong order: buyer first.
    const swapped = { payload: s.payload, signatures: [s.signatures[1]!, s.signatures[0]!] };
    expect(reasonOf(swapped)).toBe('signer-not-party');
    // The buyer's slot signed by a stranger.
    const stranger = signContract(
      signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
      K.operator.id,
      K.operator.secretKey,
    );
    expect(reasonOf(stranger)).toBe('signer-not-party');
    // One byte of the payload changed: both signatures fail.
    const tampered = {
      ...s,
      payload: b64url.encode(utf8(JSON.stringify({ ...exampleEnergyContract(), priceMinorPerKWh: 99 }))),
    };
    expect(reasonOf(tampered)).toBe('bad-signature');
    // Signed, but not a valid contract.
    const invalid = signContract(
      { ...exampleEnergyContract(), currency: 'euro' } as never,
      K.seller.id,
      K.seller.secretKey,
    );
    const v = verifySignedContract(invalid, keys, { requireBoth: false });
    expect(v).toMatchObject({ ok: false, reason: 'schema' });
    expect(!v.ok && v.issues?.[0]?.path).toBe('currency');
    // Unknown key.
    expect(verifySignedContract(s, () => undefined)).toMatchObject({ ok: false, reason: 'kid-unknown' });
  });
});
