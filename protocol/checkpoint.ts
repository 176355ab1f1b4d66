// Signed tree heads in the C2SP checkpoint format, as a C2SP signed note with an Ed25519
// signature, so that transparency tooling (witnesses, monitors) can read them:
//
//   <origin>\n<tree size>\n<base64 root hash>\n[extension lines\n]
//   \n
//   — <key name> <base64(4-byte key id || 64-byte signature)>\n
//
// key id = SHA-256(key name || "\n" || 0x01 || public key)[0:4]; the signature covers the note
// text (everything before the blank line, including its final newline).
import { b64, bytesEqual, concatBytes, hex, utf8 } from './bytes.js';
import { sha256 } from './hash.js';
import { PUBLIC_KEY_BYTES, signBytes, verifyBytes } from './keys.js';

const ED25519_ALG = 0x01;
const SIG_PREFIX = '\u2014 ';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  /** Optional extension lines, after the root; none of Wattproof's own needs them. */
  extensions?: string[];
}

export interface NoteVerifier {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

function checkKeyName(name: string): void {
  if (!/^[^\s+]+$/.test(name))
    throw new Error(`a note key name is non-empty, without spaces or "+": "${name}"`);
}

/** The 4-byte key id of an Ed25519 note key. */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  checkKeyName(name);
  return sha256(concatBytes(utf8(`${name}\n`), Uint8Array.of(ED25519_ALG), publicKey)).subarray(0, 4);
}

/** The verifier key string `name+keyidhex+base64(0x01 || key)` that note tools take. */
export function noteVerifierKey(name: string, publicKey: Uint8Array): string {
  return `${name}+${hex(noteKeyId(name, publicKey))}+${b64.encode(concatBytes(Uint8Array.of(ED25519_ALG), publicKey))}`;
}

/** Parses a verifier key string; throws with the reason when it is not one. */
export function parseNoteVerifierKey(vkey: string): NoteVerifier {
  // The base64 key data may itself contain "+", so only the first two separate fields.
  const m = /^([^+]*)\+([0-9a-f]{8})\+(.+)$/.exec(vkey);
  if (!m) throw new Error('a verifier key has the form name+keyid(8 hex)+base64key');
  const [, name, idHex, keyB64] = m as unknown as [string, string, string, string];
  checkKeyName(name);
  const data = b64.decode(keyB64);
  if (data.length !== PUBLIC_KEY_BYTES + 1 || data[0] !== ED25519_ALG)
    throw new Error('the verifier key is not an Ed25519 key');
  const publicKey = data.subarray(1);
  const keyId = noteKeyId(name, publicKey);
  if (hex(keyId) !== idHex) throw new Error('the verifier key id does not match its name and key');
  return { name, keyId, publicKey };
}

/** The checkpoint body (the signed note text). */
export function formatCheckpoint(cp: Checkpoint): string {
  if (!cp.origin || /[\n\r]/.test(cp.origin)) throw new Error('a checkpoint origin is one non-empty line');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new Error('a tree size is a non-negative integer');
  if (cp.root.length !== 32) throw new Error('a root hash has 32 bytes');
  const ext = (cp.extensions ?? []).map((line) => {
    if (!line || /[\n\r]/.test(line)) throw new Error('an extension is one non-empty line');
    return `${line}\n`;
  });
  return `${cp.origin}\n${cp.size}\n${b64.encode(cp.root)}\n${ext.join('')}`;
}

/** Signs a note text: returns the whole signed note (text, blank line, signature line). */
export function signNote(
  text: string,
  keyName: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
): string {
  if (!text.endsWith('\n')) throw new Error('a note text ends with a newline');
  const sig = signBytes(utf8(text), secretKey);
  return `${text}\n${SIG_PREFIX}${keyName} ${b64.encode(concatBytes(noteKeyId(keyName, publicKey), sig))}\n`;
}

export function signCheckpoint(
  cp: Checkpoint,
  keyName: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
): string {
  return signNote(formatCheckpoint(cp), keyName, secretKey, publicKey);
}

export type CheckpointParse =
  | { ok: true; checkpoint: Checkpoint; text: string; signedBy: string[] }
  | { ok: false; reason: string };

/**
 * Parses a signed checkpoint and checks it carries a valid signature from at least one of
 * `verifiers` (signatures by unknown keys are ignored, as the signed-note rules say).
 */
export function openCheckpoint(note: string, verifiers: readonly NoteVerifier[]): CheckpointParse {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n'))
    return { ok: false, reason: 'not a signed note (no blank line before signatures)' };
  const text = note.slice(0, split + 1);
  if (hasControlCharacters(text)) return { ok: false, reason: 'the note text has control characters' };
  const sigLines = note.slice(split + 2, -1).split('\n');
  const signedBy: string[] = [];
  for (const line of sigLines) {
    if (!line.startsWith(SIG_PREFIX)) return { ok: false, reason: `not a signature line: "${line}"` };
    const [name, sigB64, ...rest] = line.slice(SIG_PREFIX.length).split(' ');
    if (!name || !sigB64 || rest.length > 0)
      return { ok: false, reason: `malformed signature line: "${line}"` };
    let blob: Uint8Array;
    try {
      blob = b64.decode(sigB64);
    } catch {
      return { ok: false, reason: `signature of "${name}" is not base64` };
    }
    if (blob.length < 5) return { ok: false, reason: `signature of "${name}" is too short` };
    const id = blob.subarray(0, 4);
    const v = verifiers.find((k) => k.name === name && bytesEqual(k.keyId, id));
    if (!v) continue;
    if (blob.length !== 68 || !verifyBytes(blob.subarray(4), utf8(text), v.publicKey)) {
      return { ok: false, reason: `the signature of "${name}" does not verify` };
    }
    signedBy.push(name);
  }
  if (signedBy.length === 0) return { ok: false, reason: 'no signature from a known key' };
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) return { ok: false, reason: 'a checkpoint has an origin, a size and a root' };
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!origin) return { ok: false, reason: 'the origin line is empty' };
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    return { ok: false, reason: `tree size "${sizeText}" is not a decimal integer` };
  }
  let root: Uint8Array;
  try {
    root = b64.decode(rootText);
  } catch {
    return { ok: false, reason: 'the root hash is not base64' };
  }
  if (root.length !== 32) return { ok: false, reason: 'the root hash does not have 32 bytes' };
  return { ok: true, checkpoint: { origin, size: Number(sizeText), root, extensions }, text, signedBy };
}

/** Control characters other than newline, which a note text may not hold. */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}
