// Byte helpers shared by every protocol rule. Decoders are strict: an input that is not the
// canonical encoding of its bytes is refused, so one message never has two spellings (and two
// message hashes).
import { base32nopad, base64, base64urlnopad, hex as hexCoder } from '@scure/base';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The string of UTF-8 bytes; throws on invalid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function strict(name: string, encode: (b: Uint8Array) => string, decode: (s: string) => Uint8Array) {
  return {
    encode,
    decode(s: string): Uint8Array {
      let bytes: Uint8Array;
      try {
        bytes = decode(s);
      } catch (err) {
        throw new Error(`not valid ${name}: ${(err as Error).message}`);
      }
      if (encode(bytes) !== s) throw new Error(`not canonical ${name}`);
      return bytes;
    },
  };
}

/** base64url without padding (RFC 7515 §2), as JWS uses it. */
export const b64url = strict('base64url', base64urlnopad.encode, base64urlnopad.decode);
/** Standard base64 with padding (RFC 4648 §4), as checkpoints use it. */
export const b64 = strict('base64', base64.encode, base64.decode);
/** Lowercase base32 without padding (RFC 4648 §6 alphabet, lowercased), as ids use it. */
export const b32 = strict(
  'base32',
  (b) => base32nopad.encode(b).toLowerCase(),
  (s) => base32nopad.decode(s.toUpperCase()),
);

/** Lowercase hex. */
export function hex(bytes: Uint8Array): string {
  return hexCoder.encode(bytes);
}

export function fromHex(s: string): Uint8Array {
  return strict('hex', hexCoder.encode, hexCoder.decode).decode(s.toLowerCase());
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
