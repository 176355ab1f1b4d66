import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { leafHashOf, Outbox } from '../agent/outbox.js';
import {
  b64url,
  checkChainLink,
  decodeJwsUnverified,
  gatewayIdOf,
  generateSecretKey,
  messageHashB64,
  publicKeyOf,
  verifyJws,
} from '../protocol/index.js';

function signer() {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { gatewayId: gatewayIdOf(publicKey), secretKey, publicKey };
}

const tmpFile = () => path.join(mkdtempSync(path.join(tmpdir(), 'wattproof-outbox-')), 'outbox.sqlite');
const append = (o: Outbox, n: number) =>
  o.appendSigned('event', (link) => ({ typ: 'wattproof.test.v1', payload: { ...link, n } }), 1000 + n);

describe('outbox', () => {
  it('assigns seq and prev inside the transaction and the chain survives reopening', () => {
    const s = signer();
    const file = tmpFile();
    const a = new Outbox(file, s);
    expect(a.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(a.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    const r0 = append(a, 0);
    const r1 = append(a, 1);
    a.close();
    const b = new Outbox(file, s);
    const r2 = append(b, 2);
    const rows = [r0, r1, r2];
    let head: { seq: number; hash: string } | undefined;
    for (const r of rows) {
      const v = verifyJws(r.jws, { kid: s.gatewayId, publicKeyFor: () => s.publicKey });
      expect(v.ok).toBe(true);
      const p = decodeJwsUnverified(r.jws)!.payload as { seq: number; prev: string | null; gw: string };
      expect(p.gw).toBe(s.gatewayId);
      expect(checkChainLink(head, p)).toEqual({ ok: true });
      head = { seq: p.seq, hash: messageHashB64(r.jws) };
    }
    expect(b.head()).toEqual({ seq: 2, hash: r2.messageHash });
    expect(b.pending(-1, 10).map((r) => r.seq)).toEqual([0, 1, 2]);
    b.close();
  });

  it('a failure while building rolls back: no seq is used, nothing is stored', () => {
    const o = new Outbox(tmpFile(), signer());
    append(o, 0);
    expect(() =>
      o.appendSigned(
        'proof',
        () => {
          throw new Error('boom');
        },
        0,
      ),
    ).toThrow('boom');
    expect(o.head().seq).toBe(0);
    expect(append(o, 1).seq).toBe(1);
  });

  it('deletes a message only on a receipt naming its message hash and leaf hash', () => {
    const o = new Outbox(tmpFile(), signer());
    const r = append(o, 0);
    expect(r.leafHash).toBe(leafHashOf(r.jws));
    const other = b64url.encode(new Uint8Array(32));
    expect(
      o.applyReceipt({ seq: 0, messageHash: other, leafHash: r.leafHash, index: 5, status: 'accepted' }, 1),
    ).toMatchObject({ ok: false, reason: 'hash-mismatch' });
    expect(
      o.applyReceipt(
        { seq: 0, messageHash: r.messageHash, leafHash: other, index: 5, status: 'accepted' },
        1,
      ),
    ).toMatchObject({ ok: false, reason: 'leaf-mismatch' });
    expect(
      o.applyReceipt(
        { seq: 7, messageHash: r.messageHash, leafHash: r.leafHash, index: 5, status: 'accepted' },
        1,
      ),
    ).toMatchObject({ ok: false, reason: 'unknown-seq' });
    expect(o.depth().pending).toBe(1);
    expect(
      o.applyReceipt(
        { seq: 0, messageHash: r.messageHash, leafHash: r.leafHash, index: 5, status: 'accepted' },
        9,
      ),
    ).toEqual({ ok: true, deleted: true });
    expect(o.depth().pending).toBe(0);
    expect(o.lastReceipt()).toEqual({ seq: 0, index: 5, leafHash: r.leafHash, status: 'accepted', at: 9 });
    // The same receipt again (the hub repeats itself) is harmless.
    expect(
      o.applyReceipt(
        { seq: 0, messageHash: r.messageHash, leafHash: r.leafHash, index: 5, status: 'duplicate' },
        10,
      ),
    ).toEqual({ ok: true, deleted: false });
  });

  it('keeps a rejected message but stops offering it for sending', () => {
    const o = new Outbox(tmpFile(), signer());
    const r = append(o, 0);
    append(o, 1);
    expect(o.markRejected(0, r.messageHash, 'equivocation')).toBe(true);
    expect(o.pending(-1, 10).map((x) => x.seq)).toEqual([1]);
    expect(o.get(0)?.rejectedReason).toBe('equivocation');
    expect(o.depth()).toMatchObject({ pending: 1, rejected: 1 });
  });

  it('two writers on one file never fork the chain', () => {
    const s = signer();
    const file = tmpFile();
    const a = new Outbox(file, s);
    const b = new Outbox(file, s);
    const seqs = [append(a, 0), append(b, 1), append(a, 2), append(b, 3)].map((r) => r.seq);
    expect(seqs).toEqual([0, 1, 2, 3]);
  });
});
