// Ids are derived from public keys, so anyone can check that an id belongs to a key:
//   id = kind + "-" + base32lower(SHA-256(raw 32-byte public key)[0..10])
// 10 bytes (80 bits) give 16 characters from [a-z2-7]: short, printable, and safe in an MQTT
// topic and a file name.
import { b32 } from './bytes.js';
import { sha256 } from './hash.js';
import { PUBLIC_KEY_BYTES } from './keys.js';

/** gw: gateway, pt: participant, hub: a hub's log key, val: the validator, op: an operator. */
export const ID_KINDS = ['gw', 'pt', 'hub', 'val', 'op'] as const;
export type IdKind = (typeof ID_KINDS)[number];

const ID_HASH_BYTES = 10;
const ID_PATTERN = /^(gw|pt|hub|val|op)-[a-z2-7]{16}$/;

export function deriveId(kind: IdKind, publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new Error(`an Ed25519 public key has 32 bytes, not ${publicKey.length}`);
  return `${kind}-${b32.encode(sha256(publicKey).subarray(0, ID_HASH_BYTES))}`;
}

export const gatewayIdOf = (publicKey: Uint8Array): string => deriveId('gw', publicKey);
export const participantIdOf = (publicKey: Uint8Array): string => deriveId('pt', publicKey);

/** Whether `s` has the form of an id (of `kind`, when given). It does not check any key. */
export function isId(s: unknown, kind?: IdKind): s is string {
  if (typeof s !== 'string' || !ID_PATTERN.test(s)) return false;
  return kind === undefined || s.startsWith(`${kind}-`);
}

/** The kind of a well-formed id, or undefined. */
export function idKind(s: string): IdKind | undefined {
  return isId(s) ? (s.slice(0, s.indexOf('-')) as IdKind) : undefined;
}

/** Whether `id` is the id derived from `publicKey`. */
export function idMatchesKey(id: string, publicKey: Uint8Array): boolean {
  const kind = idKind(id);
  return kind !== undefined && publicKey.length === PUBLIC_KEY_BYTES && deriveId(kind, publicKey) === id;
}
