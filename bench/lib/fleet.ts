// Keys and signed messages for benches, made fast: Ed25519 signs with node:crypto (OpenSSL)
// instead of @noble/ed25519, so a million distinct, validly chained meter proofs can be made in a
// minute. Ed25519 is deterministic, so the bytes are exactly what protocol's signMessage makes;
// checkSameAsProtocol() proves it on samples before a bench relies on it.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import {
  b64url,
  canonicalJson,
  gatewayIdOf,
  generateSecretKey,
  type JwsHeader,
  messageHashB64,
  publicKeyOf,
  utf8,
} from '../../protocol/index.js';
import {
  GATEWAY_BINDING_TYP,
  type GatewayBinding,
  METER_PROOF_TYP,
  type MeterProof,
  signMessage,
} from '../../protocol/messages/index.js';
import { opsPerSecond } from './report.js';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function privateKeyObject(secretKey: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(secretKey)]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** A compact JWS exactly as protocol's signJws makes it, signed by node:crypto. */
export function fastSignJws(typ: string, kid: string, payload: unknown, key: KeyObject): string {
  const header: JwsHeader = { alg: 'EdDSA', typ, kid };
  const h = b64url.encode(utf8(canonicalJson(header)));
  const p = b64url.encode(utf8(canonicalJson(payload)));
  const sig = sign(null, Buffer.from(`${h}.${p}`, 'ascii'), key);
  return `${h}.${p}.${b64url.encode(sig)}`;
}

export interface BenchKey {
  id: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

export function newKey(idOf: (pub: Uint8Array) => string): BenchKey {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { id: idOf(publicKey), secretKey, publicKey, privateKey: privateKeyObject(secretKey) };
}

const T0 = Date.UTC(2026, 0, 1);
const Q = 900_000;

/** A gateway signing its chain of meter proofs (seq 0, 1, 2, ... each naming the previous hash). */
export class BenchGateway {
  readonly key: BenchKey;
  seq = 0;
  prev: string | null = null;

  constructor(key: BenchKey = newKey(gatewayIdOf)) {
    this.key = key;
  }

  get id(): string {
    return this.key.id;
  }

  proofPayload(seq = this.seq, prev = this.prev): MeterProof {
    const start = T0 + seq * Q;
    return {
      gw: this.id,
      seq,
      prev,
      meter: { id: 'main', serial: 'SN-1' },
      energy: 'electricity',
      interval: { start, end: start + Q },
      importWh: { start: 1000 + seq * 10, end: 1010 + seq * 10 },
      exportWh: { start: 0, end: 0 },
      samples: 90,
      expectedSamples: 90,
      flags: [],
      signedAt: start + Q + 1000,
    };
  }

  /** Signs the next proof of the chain and advances it. */
  nextProof(): string {
    const jws = fastSignJws(METER_PROOF_TYP, this.id, this.proofPayload(), this.key.privateKey);
    this.prev = messageHashB64(jws);
    this.seq++;
    return jws;
  }
}

/** The hub-signed entry that binds a gateway's key (what enrolment appends). */
export function bindingPayload(gw: BenchKey): GatewayBinding {
  return { gw: gw.id, publicKey: b64url.encode(gw.publicKey), site: 'bench', at: T0 - 3_600_000 };
}

/**
 * Throws unless fastSignJws makes the same bytes as protocol's signMessage (which also checks the
 * payload against its schema) for a meter proof and a binding.
 */
export function checkSameAsProtocol(hub: BenchKey, gw: BenchGateway): void {
  const proof = gw.proofPayload(0, null);
  const fast = fastSignJws(METER_PROOF_TYP, gw.id, proof, gw.key.privateKey);
  const slow = signMessage(METER_PROOF_TYP, gw.id, proof, gw.key.secretKey);
  const binding = bindingPayload(gw.key);
  const fastB = fastSignJws(GATEWAY_BINDING_TYP, hub.id, binding, hub.privateKey);
  const slowB = signMessage(GATEWAY_BINDING_TYP, hub.id, binding, hub.secretKey);
  if (fast !== slow || fastB !== slowB) {
    throw new Error('node:crypto JWS signing does not reproduce protocol signMessage; the bench would lie');
  }
}

/**
 * The ingest ceiling: node:crypto Ed25519 verifies per second on one core with cached keys, over
 * meter proofs like the fleet's (32 gateways, 8 proofs each), measured in this process.
 */
export function rawVerifyRate(quick: boolean): number {
  const signed = Array.from({ length: 32 }, () => new BenchGateway()).flatMap((g) => {
    const pub = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(g.key.publicKey).toString('base64url') },
      format: 'jwk',
    });
    return Array.from({ length: 8 }, () => {
      const [h, p, s] = g.nextProof().split('.') as [string, string, string];
      return { input: Buffer.from(`${h}.${p}`), sig: Buffer.from(s, 'base64url'), pub };
    });
  });
  return opsPerSecond(
    (i) => {
      const s = signed[i % signed.length] as (typeof signed)[number];
      if (!verify(null, s.input, s.pub, s.sig)) throw new Error('verify failed');
    },
    quick ? { batch: 20, minMs: 50, runs: 1 } : { batch: 200, minMs: 1000, runs: 3 },
  );
}
