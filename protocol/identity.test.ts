import { describe, expect, it } from 'vitest';
import { b32, fromHex } from './bytes.js';
import { sha256 } from './hash.js';
import { deriveId, gatewayIdOf, idKind, idMatchesKey, isId, participantIdOf } from './identity.js';
import { generateSecretKey, publicKeyOf } from './keys.js';

const rfcPublic = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');

describe('ids derived from public keys', () => {
  it('is the kind, a dash and base32 of the first 10 bytes of SHA-256(key)', () => {
    const expected = b32.encode(sha256(rfcPublic).subarray(0, 10));
    expect(expected).toMatch(/^[a-z2-7]{16}$/);
    expect(gatewayIdOf(rfcPublic)).toBe(`gw-${expected}`);
    expect(participantIdOf(rfcPublic)).toBe(`pt-${expected}`);
    // A fixed vector, also in docs/protocol.md.
    expect(gatewayIdOf(rfcPublic)).toBe('gw-eh7ddx5bksrgcytl');
  });

  it('is safe in an MQTT topic and recognised by kind', () => {
    for (let i = 0; i < 20; i++) {
      const id = deriveId('val', publicKeyOf(generateSecretKey()));
      expect(id).not.toMatch(/[+#/\s]/);
      expect(isId(id)).toBe(true);
      expect(isId(id, 'val')).toBe(true);
      expect(isId(id, 'gw')).toBe(false);
      expect(idKind(id)).toBe('val');
    }
  });

  it('refuses forms that are not ids, and keys that do not match', () => {
    for (const s of [
      'gw-',
      'gw-EH7DDX5BKSRGCYTL',
      'gw-eh7ddx5bksrgcyt',
      'xx-eh7ddx5bksrgcytl',
      'gw-eh7ddx5bksrgcyt1',
      'gw/+',
      42,
    ]) {
      expect(isId(s)).toBe(false);
    }
    expect(idMatchesKey('gw-eh7ddx5bksrgcytl', rfcPublic)).toBe(true);
    expect(idMatchesKey('pt-eh7ddx5bksrgcytl', rfcPublic)).toBe(true);
    expect(idMatchesKey('gw-eh7ddx5bksrgcytl', publicKeyOf(generateSecretKey()))).toBe(false);
    expect(() => deriveId('gw', new Uint8Array(31))).toThrow(/32 bytes/);
  });
});
