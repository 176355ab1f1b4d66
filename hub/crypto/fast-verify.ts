// Ed25519 signature checks with node:crypto (OpenSSL), about 10x faster than @noble/ed25519 in
// Node, with one KeyObject cached per public key. Only the signature check is swapped: every other
// JWS rule (structure, canonical encodings, header fields, typ, kid) stays protocol's verifyJws.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type JwsRejected,
  type JwsVerified,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  type VerifyJwsOptions,
  verifyJws,
} from '../../protocol/index.js';

export class Ed25519Verifier {
  private readonly keys = new Map<string, KeyObject | null>();

  constructor(private readonly maxCachedKeys = 100_000) {}

  private keyObject(publicKey: Uint8Array): KeyObject | null {
    const x = Buffer.from(publicKey).toString('base64url');
    let key = this.keys.get(x);
    if (key !== undefined) return key;
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    } catch {
      key = null; // not a valid point encoding: no signature can verify with it
    }
    if (this.keys.size >= this.maxCachedKeys) this.keys.clear();
    this.keys.set(x, key);
    return key;
  }

  /** Same contract as protocol's verifyBytes: true only for a valid signature; never throws. */
  readonly verifyBytes = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean => {
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
    const key = this.keyObject(publicKey);
    if (!key) return false;
    try {
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  };

  /** protocol's verifyJws with this signature check. */
  verifyJws(compact: unknown, opts: Omit<VerifyJwsOptions, 'verifySignature'>): JwsVerified | JwsRejected {
    return verifyJws(compact, { ...opts, verifySignature: this.verifyBytes });
  }
}
