// Canonical JSON for hashing decision inputs: object keys sorted at every depth, arrays kept in
// order, then protocol's canonicalJson (which rejects NaN, Infinity and bigints). Sorting here
// means two parties that build the same value in a different key order get the same hash.
import { b64url, canonicalJson, hex, sha256 } from '../../../protocol/index.js';

export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeysDeep(v);
    }
    return out;
  }
  return value;
}

/** The canonical JSON text of a value: sorted keys, no whitespace, undefined members dropped. */
export function canonicalText(value: unknown): string {
  return canonicalJson(sortKeysDeep(value));
}

/** SHA-256 of the canonical JSON, lowercase hex. */
export function canonicalHashHex(value: unknown): string {
  return hex(sha256(canonicalText(value)));
}

/** SHA-256 of the canonical JSON, base64url without padding (the ledger's `inputsHash` form). */
export function canonicalHashB64url(value: unknown): string {
  return b64url.encode(sha256(canonicalText(value)));
}
