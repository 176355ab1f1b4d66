import { describe, expect, it } from 'vitest';
import { b64, fromHex, hex } from './bytes.js';
import {
  formatCheckpoint,
  noteKeyId,
  noteVerifierKey,
  openCheckpoint,
  parseNoteVerifierKey,
  signCheckpoint,
  signNote,
} from './checkpoint.js';
import { sha256 } from './hash.js';
import { generateSecretKey, publicKeyOf } from './keys.js';

const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const pub = publicKeyOf(secret);
const origin = 'wattproof.example/log';
const root = fromHex('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
const verifier = parseNoteVerifierKey(noteVerifierKey(origin, pub));

describe('C2SP checkpoints (signed notes)', () => {
  it('formats the body as origin, size, base64 root, each on its own line', () => {
    expect(formatCheckpoint({ origin, size: 8, root })).toBe(
      'wattproof.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n',
    );
  });

  it('signs as a note: blank line, em dash, key name, base64 of key id and signature', () => {
    const note = signCheckpoint({ origin, size: 8, root }, origin, secret, pub);
    const lines = note.split('\n');
    expect(lines.slice(0, 4)).toEqual([origin, '8', b64.encode(root), '']);
    expect(lines[4]).toMatch(/^\u2014 wattproof\.example\/log [A-Za-z0-9+/]{91}=$/);
    const blob = b64.decode((lines[4] as string).split(' ')[2] as string);
    expect(hex(blob.subarray(0, 4))).toBe(hex(noteKeyId(origin, pub)));
    expect(note.endsWith('\n')).toBe(true);
    const opened = openCheckpoint(note, [verifier]);
    expect(opened).toMatchObject({ ok: true, signedBy: [origin], checkpoint: { origin, size: 8 } });
    if (opened.ok) expect(hex(opened.checkpoint.root)).toBe(hex(root));
  });

  it('computes the key id as SHA-256(name, newline, 0x01, key)[0:4] and round-trips the verifier key', () => {
    const expected = sha256(new Uint8Array([...new TextEncoder().encode(`${origin}\n`), 1, ...pub])).subarray(
      0,
      4,
    );
    expect(hex(noteKeyId(origin, pub))).toBe(hex(expected));
    const vkey = noteVerifierKey(origin, pub);
    expect(vkey).toMatch(/^wattproof\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    expect(hex(parseNoteVerifierKey(vkey).publicKey)).toBe(hex(pub));
    expect(() => parseNoteVerifierKey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toThrow(
      /does not match/,
    );
    expect(() => parseNoteVerifierKey('nokey')).toThrow(/form/);
    expect(() => noteKeyId('has space', pub)).toThrow(/key name/);
  });

  it('refuses a changed size, root or origin, a bad signature, and notes signed by no known key', () => {
    const note = signCheckpoint({ origin, size: 8, root }, origin, secret, pub);
    expect(openCheckpoint(note.replace('\n8\n', '\n9\n'), [verifier]).ok).toBe(false);
    expect(openCheckpoint(note.replace('Xcnaea', 'Ycnaea'), [verifier]).ok).toBe(false);
    expect(openCheckpoint(note.replace(origin, 'other.example/log'), [verifier]).ok).toBe(false);
    const other = generateSecretKey();
    const byOther = signCheckpoint({ origin, size: 8, root }, origin, other, publicKeyOf(other));
    expect(openCheckpoint(byOther, [verifier])).toEqual({
      ok: false,
      reason: 'no signature from a known key',
    });
    expect(openCheckpoint('garbage', [verifier]).ok).toBe(false);
    expect(openCheckpoint(`${origin}\n8\n\n\u2014 x y\n`, [verifier]).ok).toBe(false);
  });

  it('accepts extra signatures from unknown keys (witness cosignatures) and checks the known one', () => {
    const note = signCheckpoint({ origin, size: 8, root }, origin, secret, pub);
    const w = generateSecretKey();
    const witnessed = signNote(
      formatCheckpoint({ origin, size: 8, root }),
      'witness.example',
      w,
      publicKeyOf(w),
    );
    const both = note + witnessed.slice(witnessed.lastIndexOf('\n\n') + 2);
    expect(openCheckpoint(both, [verifier])).toMatchObject({ ok: true, signedBy: [origin] });
  });

  it('refuses malformed bodies', () => {
    expect(() => formatCheckpoint({ origin: '', size: 1, root })).toThrow(/origin/);
    expect(() => formatCheckpoint({ origin, size: -1, root })).toThrow(/size/);
    expect(() => formatCheckpoint({ origin, size: 1, root: root.subarray(1) })).toThrow(/32 bytes/);
    const sign = (text: string) => signNote(text, origin, secret, pub);
    expect(openCheckpoint(sign(`${origin}\n08\n${b64.encode(root)}\n`), [verifier]).ok).toBe(false);
    expect(openCheckpoint(sign(`${origin}\n8\n${b64.encode(root.subarray(1))}\n`), [verifier]).ok).toBe(
      false,
    );
    expect(openCheckpoint(sign(`${origin}\n8\n`), [verifier]).ok).toBe(false);
    expect(openCheckpoint(sign(`${origin}\t\n8\n${b64.encode(root)}\n`), [verifier]).ok).toBe(false);
    expect(() => signNote('no newline', origin, secret, pub)).toThrow(/newline/);
  });
});
