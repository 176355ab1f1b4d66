import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64url, fromHex, hex } from './bytes.js';
import { generateSecretKey, publicKeyOf, signBytes, verifyBytes } from './keys.js';

// RFC 8032 §7.1, TEST 1-3 and TEST SHA(abc).
const rfc8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

function nodePublicKey(raw: Uint8Array) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url.encode(raw) }, format: 'jwk' });
}

function nodePrivateKey(secret: Uint8Array) {
  const x = b64url.encode(publicKeyOf(secret));
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x, d: b64url.encode(secret) },
    format: 'jwk',
  });
}

describe('Ed25519 keys and signatures', () => {
  it.each(rfc8032)('matches RFC 8032 §7.1 for message "$message"', (v) => {
    const secret = fromHex(v.secret);
    expect(hex(publicKeyOf(secret))).toBe(v.public);
    const message = fromHex(v.message);
    expect(hex(signBytes(message, secret))).toBe(v.signature);
    expect(verifyBytes(fromHex(v.signature), message, fromHex(v.public))).toBe(true);
  });

  it('signatures made here verify with node:crypto, and node’s verify here', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        (secret, msg) => {
          const pub = publicKeyOf(secret);
          const ours = signBytes(msg, secret);
          expect(nodeVerify(null, msg, nodePublicKey(pub), ours)).toBe(true);
          const theirs = new Uint8Array(nodeSign(null, msg, nodePrivateKey(secret)));
          expect(hex(theirs)).toBe(hex(ours)); // Ed25519 is deterministic
          expect(verifyBytes(theirs, msg, pub)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a changed message, a changed signature, another key and wrong lengths', () => {
    const secret = generateSecretKey();
    const pub = publicKeyOf(secret);
    const msg = new TextEncoder().encode('1 kWh');
    const sig = signBytes(msg, secret);
    expect(verifyBytes(sig, msg, pub)).toBe(true);
    expect(verifyBytes(sig, new TextEncoder().encode('2 kWh'), pub)).toBe(false);
    const bent = sig.slice();
    bent[10] = (bent[10] as number) ^ 1;
    expect(verifyBytes(bent, msg, pub)).toBe(false);
    expect(verifyBytes(sig, msg, publicKeyOf(generateSecretKey()))).toBe(false);
    expect(verifyBytes(sig.subarray(0, 63), msg, pub)).toBe(false);
    expect(verifyBytes(sig, msg, pub.subarray(0, 31))).toBe(false);
  });

  it('refuses a signature whose S is not reduced (strict RFC 8032, as node:crypto)', () => {
    const secret = fromHex(rfc8032[0]!.secret);
    const pub = publicKeyOf(secret);
    const msg = new Uint8Array(0);
    const sig = signBytes(msg, secret);
    // S + L, where L is the group order: the same point equation holds, but S ≥ L is not canonical.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i] as number);
    let t = s + L;
    const forged = sig.slice();
    for (let i = 0; i < 32; i++) {
      forged[32 + i] = Number(t & 0xffn);
      t >>= 8n;
    }
    expect(nodeVerify(null, msg, nodePublicKey(pub), forged)).toBe(false);
    expect(verifyBytes(forged, msg, pub)).toBe(false);
  });
});
