// The protocol's hashes computed with node:crypto (OpenSSL's SHA-256, several times faster than the
// pure-JavaScript one protocol/ uses so that it also runs in browsers). Same functions, same bytes:
// hashes.test.ts pins them to protocol's leafHash and messageHash.
import { createHash } from 'node:crypto';

const LEAF_PREFIX = Buffer.of(0);

/** SHA-256(0x00 || ASCII bytes of the compact JWS): protocol's leafHash(utf8(compact)). */
export function leafHashOf(compact: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(compact, 'utf8').digest());
}

/** SHA-256 of the compact JWS text: protocol's messageHash(compact). */
export function messageHashOf(compact: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(compact, 'utf8').digest());
}

/** SHA-256 of raw bytes: protocol's sha256(bytes). */
export function sha256Of(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
