import { describe, expect, it } from 'vitest';
import { b64url, hex, utf8 } from './bytes.js';
import { checkChainLink, messageHash, messageHashB64 } from './chain.js';
import { sha256 } from './hash.js';

describe('gateway message chain', () => {
  it('hashes the exact compact JWS text', () => {
    const jws = 'aaa.bbb.ccc';
    expect(hex(messageHash(jws))).toBe(hex(sha256(utf8(jws))));
    expect(messageHashB64(jws)).toBe(b64url.encode(sha256(utf8(jws))));
  });

  it('starts at seq 0 with prev null, then continues one by one naming the previous hash', () => {
    expect(checkChainLink(undefined, { seq: 0, prev: null })).toEqual({ ok: true });
    expect(checkChainLink(undefined, { seq: 0, prev: 'x' })).toMatchObject({
      ok: false,
      reason: 'genesis-prev',
    });
    expect(checkChainLink(undefined, { seq: 1, prev: 'x' })).toMatchObject({ ok: false, reason: 'gap' });
    const head = { seq: 4, hash: 'h4' };
    expect(checkChainLink(head, { seq: 5, prev: 'h4' })).toEqual({ ok: true });
    expect(checkChainLink(head, { seq: 5, prev: 'h3' })).toMatchObject({
      ok: false,
      reason: 'prev-mismatch',
    });
    expect(checkChainLink(head, { seq: 4, prev: 'h3' })).toMatchObject({
      ok: false,
      reason: 'replay-or-fork',
    });
    expect(checkChainLink(head, { seq: 7, prev: 'h6' })).toMatchObject({ ok: false, reason: 'gap' });
    expect(checkChainLink(head, { seq: -1, prev: null })).toMatchObject({ ok: false, reason: 'bad-seq' });
    expect(checkChainLink(head, { seq: 1.5, prev: null })).toMatchObject({ ok: false, reason: 'bad-seq' });
  });
});
