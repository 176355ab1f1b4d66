import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './bytes.js';

/** SHA-256 of bytes, or of a string's UTF-8 bytes. Pure JavaScript, so it runs in browsers too. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === 'string' ? utf8(data) : data);
}
