// Signed messages: JWS compact serialisation (RFC 7515) with alg EdDSA over Ed25519 (RFC 8037).
// The exact bytes that were signed travel, so nothing is canonicalised after the fact. To make
// each message have exactly one spelling, a verifier also requires that the header and payload
// are the shortest JSON of their values (what JSON.stringify produces: no whitespace, no
// duplicate names, no alternative number or string forms) and that every base64url segment is
// canonical. See docs/protocol.md, "Signed messages".
import { b64url, fromUtf8, utf8 } from './bytes.js';
import { signBytes, verifyBytes } from './keys.js';

export interface JwsHeader {
  alg: 'EdDSA';
  typ: string;
  kid: string;
}

/** Why a JWS was refused. Each tampering maps to one of these; the hub counts rejects by them. */
export const JWS_REJECT_REASONS = [
  'too-large',
  'malformed',
  'header-not-json',
  'header-fields',
  'alg-not-eddsa',
  'typ-mismatch',
  'kid-mismatch',
  'kid-unknown',
  'bad-signature',
  'payload-not-json',
  'not-canonical-json',
] as const;
export type JwsRejectReason = (typeof JWS_REJECT_REASONS)[number];

/** Largest compact JWS accepted, in bytes; every Wattproof message is far smaller. */
export const MAX_JWS_BYTES = 64 * 1024;

const HEADER_KEYS = ['alg', 'kid', 'typ'];
const SEGMENT = /^[A-Za-z0-9_-]*$/;

/** The JSON text of a value, as it is signed. Throws for values JSON cannot represent exactly. */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('JSON cannot carry NaN or Infinity');
    if (typeof v === 'bigint') throw new Error('JSON cannot carry a bigint; use a safe integer');
    return v;
  });
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** The JWS Signing Input of RFC 7515 §5.1: ASCII(BASE64URL(header) '.' BASE64URL(payload)). */
export function signingInput(headerSegment: string, payloadSegment: string): Uint8Array {
  return utf8(`${headerSegment}.${payloadSegment}`);
}

/** Signs `payload` (serialised once with JSON.stringify) as a compact JWS. */
export function signJws(typ: string, kid: string, payload: unknown, secretKey: Uint8Array): string {
  const header: JwsHeader = { alg: 'EdDSA', typ, kid };
  const h = b64url.encode(utf8(canonicalJson(header)));
  const p = b64url.encode(utf8(canonicalJson(payload)));
  const sig = signBytes(signingInput(h, p), secretKey);
  return `${h}.${p}.${b64url.encode(sig)}`;
}

export interface VerifyJwsOptions {
  /** The message type(s) this place accepts; any other `typ` is refused. */
  typ?: string | readonly string[];
  /** The signer this place expects (e.g. the gateway id of the topic). */
  kid?: string;
  /** The public key bound to a signer id, or undefined when none is known. */
  publicKeyFor(kid: string): Uint8Array | undefined;
  maxBytes?: number;
  /**
   * The signature check. Defaults to @noble/ed25519 (strict RFC 8032); the hub passes one built
   * on node:crypto for speed. Everything else is checked here, identically for both.
   */
  verifySignature?: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
}

export interface JwsVerified {
  ok: true;
  header: JwsHeader;
  payload: unknown;
  payloadBytes: Uint8Array;
  compact: string;
}

export interface JwsRejected {
  ok: false;
  reason: JwsRejectReason;
  detail: string;
}

const reject = (reason: JwsRejectReason, detail: string): JwsRejected => ({ ok: false, reason, detail });

function parseCanonicalJson(
  bytes: Uint8Array,
): { ok: true; value: unknown } | { ok: false; canonical: boolean } {
  let text: string;
  let value: unknown;
  try {
    text = fromUtf8(bytes);
    value = JSON.parse(text);
  } catch {
    return { ok: false, canonical: true };
  }
  if (JSON.stringify(value) !== text) return { ok: false, canonical: false };
  return { ok: true, value };
}

interface SplitJws {
  segments: [string, string, string];
  header: JwsHeader;
  signature: Uint8Array;
  payloadBytes: Uint8Array;
}

function splitAndCheckHeader(compact: unknown, maxBytes: number): SplitJws | JwsRejected {
  if (typeof compact !== 'string') return reject('malformed', 'a compact JWS is a string');
  if (compact.length > maxBytes)
    return reject('too-large', `${compact.length} bytes is over the ${maxBytes}-byte limit`);
  const segments = compact.split('.');
  if (segments.length !== 3)
    return reject('malformed', `a compact JWS has 3 segments, not ${segments.length}`);
  const [h, p, s] = segments as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) {
    return reject('malformed', 'a segment has characters outside base64url');
  }
  let headerBytes: Uint8Array;
  let payloadBytes: Uint8Array;
  let signature: Uint8Array;
  try {
    headerBytes = b64url.decode(h);
    payloadBytes = b64url.decode(p);
    signature = b64url.decode(s);
  } catch (err) {
    return reject('malformed', (err as Error).message);
  }
  const parsed = parseCanonicalJson(headerBytes);
  if (!parsed.ok) {
    return parsed.canonical
      ? reject('header-not-json', 'the protected header is not JSON')
      : reject('not-canonical-json', 'the protected header is not in its shortest JSON form');
  }
  const header = parsed.value;
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    return reject('header-not-json', 'the protected header is not a JSON object');
  }
  const keys = Object.keys(header).sort();
  if (keys.length !== HEADER_KEYS.length || keys.some((k, i) => k !== HEADER_KEYS[i])) {
    return reject(
      'header-fields',
      `the protected header has exactly alg, kid and typ; it has ${keys.join(', ') || 'none'}`,
    );
  }
  const { alg, typ, kid } = header as Record<string, unknown>;
  if (typeof typ !== 'string' || typeof kid !== 'string' || typeof alg !== 'string') {
    return reject('header-fields', 'alg, kid and typ are strings');
  }
  if (alg !== 'EdDSA') return reject('alg-not-eddsa', `alg is "${alg}", only "EdDSA" is accepted`);
  return { segments: [h, p, s], header: { alg, typ, kid }, signature, payloadBytes };
}

/**
 * Verifies a compact JWS completely: size, structure, canonical encodings, header fields, the
 * expected typ and kid, the key bound to kid, the Ed25519 signature, and a canonical JSON payload.
 * It never throws; a refusal carries one reason from JWS_REJECT_REASONS and a detail for logs.
 */
export function verifyJws(compact: unknown, opts: VerifyJwsOptions): JwsVerified | JwsRejected {
  const split = splitAndCheckHeader(compact, opts.maxBytes ?? MAX_JWS_BYTES);
  if ('ok' in split) return split;
  const { header, segments, signature, payloadBytes } = split;
  if (opts.typ !== undefined) {
    const allowed = typeof opts.typ === 'string' ? [opts.typ] : opts.typ;
    if (!allowed.includes(header.typ)) {
      return reject(
        'typ-mismatch',
        `typ "${header.typ}" is not accepted here (expected ${allowed.join(' or ')})`,
      );
    }
  }
  if (opts.kid !== undefined && header.kid !== opts.kid) {
    return reject('kid-mismatch', `signed by "${header.kid}", expected "${opts.kid}"`);
  }
  const publicKey = opts.publicKeyFor(header.kid);
  if (!publicKey) return reject('kid-unknown', `no public key is bound to "${header.kid}"`);
  const check = opts.verifySignature ?? verifyBytes;
  if (!check(signature, signingInput(segments[0], segments[1]), publicKey)) {
    return reject('bad-signature', `the signature does not verify with the key of "${header.kid}"`);
  }
  const payload = parseCanonicalJson(payloadBytes);
  if (!payload.ok) {
    return payload.canonical
      ? reject('payload-not-json', 'the payload is not JSON')
      : reject('not-canonical-json', 'the payload is not in its shortest JSON form');
  }
  return { ok: true, header, payload: payload.value, payloadBytes, compact: compact as string };
}

/**
 * The header and payload of a compact JWS without checking its signature, for logs and for
 * finding which key to check it with. Never trust what it returns.
 */
export function decodeJwsUnverified(compact: unknown): { header: JwsHeader; payload: unknown } | undefined {
  const split = splitAndCheckHeader(compact, MAX_JWS_BYTES);
  if ('ok' in split) return undefined;
  const payload = parseCanonicalJson(split.payloadBytes);
  return payload.ok ? { header: split.header, payload: payload.value } : undefined;
}

/**
 * Checks only the RFC 7515/8037 signature of any compact EdDSA JWS, whatever its header holds.
 * For interoperability tests with other JOSE implementations; Wattproof messages use verifyJws.
 */
export function verifyCompactSignature(compact: string, publicKey: Uint8Array): boolean {
  const parts = compact.split('.');
  if (parts.length !== 3) return false;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(fromUtf8(b64url.decode(h))) as { alg?: unknown };
    if (header.alg !== 'EdDSA') return false;
    return verifyBytes(b64url.decode(s), signingInput(h, p), publicKey);
  } catch {
    return false;
  }
}
