import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bytesEqual,
  deriveId,
  generateSecretKey,
  leafHash,
  openCheckpoint,
  parseNoteVerifierKey,
  publicKeyOf,
  rootOf,
  signJws,
  utf8,
  verifyConsistency,
  verifyInclusion,
} from '../../protocol/index.js';
import { type AppendInput, Ledger } from './ledger.js';

const secret = generateSecretKey();
const signer = { origin: 'test.wattproof/log', secretKey: secret, publicKey: publicKeyOf(secret) };
const kid = deriveId('hub', signer.publicKey);
const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

function tempDb(): { file: string; db: Database.Database } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wattproof-ledger-')), 'ledger.db');
  const db = new Database(file);
  open.push(db);
  return { file, db };
}

function leaf(i: number): AppendInput {
  return {
    jws: signJws('test.note.v1', kid, { i }, secret),
    typ: 'test.note.v1',
    kid,
    gw: null,
    seq: null,
    receivedMs: i,
  };
}

describe('Ledger', () => {
  it('appends leaves whose roots and proofs agree with the in-memory RFC 6962 rules, for every size', () => {
    const { db } = tempDb();
    const ledger = new Ledger(db, { signer });
    const hashes: Uint8Array[] = [];
    for (let i = 0; i < 37; i++) {
      const [e] = ledger.append([leaf(i)]);
      hashes.push(leafHash(utf8(e!.jws)));
      expect(bytesEqual(e!.leafHash, hashes[i]!)).toBe(true);
    }
    for (let size = 1; size <= 37; size++) {
      const root = rootOf(hashes.slice(0, size));
      expect(bytesEqual(ledger.root(size), root)).toBe(true);
      for (const index of [0, size - 1, Math.floor(size / 2)]) {
        const proof = ledger.inclusionProof(index, size);
        expect(verifyInclusion(hashes[index]!, index, size, proof, root)).toBe(true);
      }
      const rootN = rootOf(hashes);
      expect(verifyConsistency(size, 37, root, rootN, ledger.consistencyProof(size, 37))).toBe(true);
    }
  });

  it('restores its tree on reopen and signs checkpoints that open with its verifier key', () => {
    const { file, db } = tempDb();
    const first = new Ledger(db, { signer });
    first.append([leaf(0), leaf(1), leaf(2)]);
    const cp = first.checkpoint()!;
    db.close();
    open.pop();
    const db2 = new Database(file);
    open.push(db2);
    const again = new Ledger(db2, { signer });
    expect(again.size).toBe(3);
    expect(bytesEqual(again.root(), cp.root)).toBe(true);
    again.append([leaf(3)]);
    const cp2 = again.checkpoint()!;
    expect(cp2.size).toBe(4);
    const opened = openCheckpoint(cp2.note, [parseNoteVerifierKey(again.verifierKey()!)]);
    expect(opened.ok && opened.checkpoint.size).toBe(4);
    expect(again.checkpointCovering(2)?.size).toBe(3);
    expect(again.checkpointCovering(3)?.size).toBe(4);
  });

  it('appends a batch atomically: a repeated message leaves the log and the tree as they were', () => {
    const { db } = tempDb();
    const ledger = new Ledger(db, { signer });
    ledger.append([leaf(0)]);
    const root = ledger.root();
    expect(() => ledger.append([leaf(1), leaf(0)])).toThrow(/UNIQUE/);
    expect(ledger.size).toBe(1);
    expect(bytesEqual(ledger.root(), root)).toBe(true);
    expect(ledger.append([leaf(1)])[0]!.index).toBe(1);
  });

  it('group commit: the batch commits without a sync, then the database is back to synchronous=FULL for checkpoints', () => {
    const { file, db } = tempDb();
    const ledger = new Ledger(db, { signer });
    const sync = () => db.pragma('synchronous', { simple: true });
    expect(sync()).toBe(2); // FULL
    let during: unknown;
    ledger.transaction(
      () => {
        during = sync();
        ledger.append([leaf(0), leaf(1)]);
        // A nested call joins the open transaction and changes nothing.
        ledger.transaction(() => ledger.append([leaf(2)]), { groupCommit: true });
      },
      { groupCommit: true },
    );
    expect(during).toBe(1); // NORMAL
    expect(sync()).toBe(2);
    // A failed group commit rolls back the tree too, and restores the setting.
    expect(() => ledger.transaction(() => ledger.append([leaf(3), leaf(0)]), { groupCommit: true })).toThrow(
      /UNIQUE/,
    );
    expect(sync()).toBe(2);
    expect(ledger.size).toBe(3);
    const cp = ledger.checkpoint()!;
    // What was committed is in the file for any other reader.
    const reader = new Database(file, { readonly: true });
    open.push(reader);
    expect(reader.prepare('SELECT COUNT(*) AS n FROM entries').get()).toEqual({ n: 3 });
    expect(bytesEqual(ledger.root(3), cp.root)).toBe(true);
  });

  it('answers many proofs of one size from one proof source, and refuses sizes beyond the tree', () => {
    const { db } = tempDb();
    const ledger = new Ledger(db, { signer });
    const entries = ledger.append(Array.from({ length: 21 }, (_, i) => leaf(i)));
    const source = ledger.proofSource();
    const root = ledger.root();
    for (const e of entries)
      expect(verifyInclusion(e.leafHash, e.index, 21, ledger.inclusionProof(e.index, 21, source), root)).toBe(
        true,
      );
    expect(() => ledger.inclusionProof(0, 22)).toThrow(/outside 0..21/);
    expect(() => ledger.consistencyProof(3, 22)).toThrow(/outside 0..21/);
    expect(() => ledger.root(-1)).toThrow(/outside/);
  });

  it('the database refuses updates and deletes of log rows', () => {
    const { db } = tempDb();
    const ledger = new Ledger(db, { signer });
    ledger.append([leaf(0), leaf(1)]);
    ledger.checkpoint();
    expect(() => db.prepare("UPDATE entries SET leaf = 'x' WHERE idx = 0").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM entries').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM nodes').run()).toThrow(/append-only/);
    expect(() => db.prepare('UPDATE checkpoints SET size = 9').run()).toThrow(/append-only/);
    expect(ledger.entry(0)?.jws).toBe(leaf(0).jws);
  });
});
