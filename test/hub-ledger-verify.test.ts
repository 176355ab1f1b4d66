// The ledger a hub writes can be checked by anyone: `verify` on the database, the export checked by
// the standalone verifier (wattproof-verify, protocol only), and proofs from the HTTP API checked
// against signed checkpoints. An attacker who edits one byte of an entry in the database file
// (dropping the append-only trigger first) is caught, and the entry is named.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeLedgerExport } from '../hub/export/export.js';
import { LEDGER_FILE } from '../hub/hub.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { leafHash, messageHash, utf8 } from '../protocol/index.js';
import { runVerify } from '../protocol/verify-command.js';
import { startTestHub, TestGateway } from './support/hub-fixtures.js';

let dir: string;
let vkey: string;
const apiFiles: Record<string, string> = {};

async function verifyCli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runVerify(args, {
    readText: (f) => readFileSync(f, 'utf8'),
    out: (t) => {
      out += t;
    },
    err: (t) => {
      out += t;
    },
  });
  return { code, out };
}

beforeAll(async () => {
  const started = await startTestHub({ gapWaitMs: 100 });
  const { hub } = started;
  dir = started.dir;
  const a = new TestGateway();
  const b = new TestGateway();
  for (const g of [a, b]) {
    await g.enrol(hub.httpUrl);
    await g.connect();
  }
  vkey = a.credentials!.hub.logVerifierKey;
  // A chain with a gap (seq 3 skipped, then filled late) so the chain rules are exercised too.
  const msgs = [a.nextProof(), a.nextProof(), a.nextProof()];
  const skipped = a.nextProof();
  const after = a.nextProof();
  for (const m of msgs) await a.publishProof(m);
  await a.receiptFor(msgs[2]!, 'accepted');
  const cpOld = await (await fetch(`${hub.httpUrl}/v1/checkpoint`)).text();
  await a.publishProof(after);
  await a.receiptFor(after, 'accepted');
  await a.publishProof(skipped);
  await a.receiptFor(skipped, 'accepted');
  let last = '';
  for (let i = 0; i < 5; i++) {
    last = b.nextProof();
    await b.publishProof(last);
  }
  await b.receiptFor(last, 'accepted');
  await hub.settle();
  const cpNew = await (await fetch(`${hub.httpUrl}/v1/checkpoint`)).text();
  const oldSize = Number(cpOld.split('\n')[1]);
  const newSize = Number(cpNew.split('\n')[1]);
  apiFiles.cpOld = cpOld;
  apiFiles.cpNew = cpNew;
  apiFiles.inclusion = await (
    await fetch(`${hub.httpUrl}/v1/proof/inclusion?index=2&size=${newSize}`)
  ).text();
  apiFiles.consistency = await (
    await fetch(`${hub.httpUrl}/v1/proof/consistency?first=${oldSize}&second=${newSize}`)
  ).text();
  apiFiles.leaf = ((await (await fetch(`${hub.httpUrl}/v1/entries/2`)).json()) as { leaf: string }).leaf;
  await a.close();
  await b.close();
  await hub.stop();
});

function copyOfLedger(): string {
  const copy = path.join(mkdtempSync(path.join(tmpdir(), 'wattproof-tamper-')), LEDGER_FILE);
  copyFileSync(path.join(dir, LEDGER_FILE), copy);
  return copy;
}

describe('ledger verification', () => {
  it('verify passes on the database the hub wrote', () => {
    const report = verifyLedgerFile(path.join(dir, LEDGER_FILE), { logKey: vkey });
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.gateways).toBe(2);
    expect(report.entries).toBeGreaterThanOrEqual(2 + 1 + 10);
  });

  it('the export is checked by wattproof-verify without the hub', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'wattproof-export-'));
    const db = new Database(path.join(dir, LEDGER_FILE), { readonly: true });
    writeLedgerExport(db, out);
    db.close();
    const r = await verifyCli([out, '--log-key', vkey]);
    expect(r.out).toMatch(/^OK: /);
    expect(r.code).toBe(0);
  });

  it('inclusion and consistency proofs from the HTTP API verify with wattproof-verify', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'wattproof-proofs-'));
    for (const [name, text] of Object.entries(apiFiles)) writeFileSync(path.join(d, name), text);
    const f = (n: string) => path.join(d, n);
    const inc = await verifyCli([
      'inclusion',
      '--proof',
      f('inclusion'),
      '--checkpoint',
      f('cpNew'),
      '--leaf',
      f('leaf'),
      '--log-key',
      vkey,
    ]);
    expect(inc.code, inc.out).toBe(0);
    const con = await verifyCli([
      'consistency',
      '--proof',
      f('consistency'),
      '--old',
      f('cpOld'),
      '--new',
      f('cpNew'),
      '--log-key',
      vkey,
    ]);
    expect(con.code, con.out).toBe(0);
    // And a proof for another leaf does not pass for this one.
    writeFileSync(f('leaf'), 'eyJ.x.y');
    const wrong = await verifyCli([
      'inclusion',
      '--proof',
      f('inclusion'),
      '--checkpoint',
      f('cpNew'),
      '--leaf',
      f('leaf'),
      '--log-key',
      vkey,
    ]);
    expect(wrong.code).toBe(1);
  });

  it('one changed byte of an entry in the database file (trigger dropped) is found and the entry named', () => {
    const entries = new Database(path.join(dir, LEDGER_FILE), { readonly: true })
      .prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM entries')
      .get()!.n;
    for (const index of [0, 4, entries - 1]) {
      const copy = copyOfLedger();
      const leaf = execFileSync('sqlite3', [copy, `SELECT leaf FROM entries WHERE idx = ${index}`])
        .toString()
        .trim();
      const at = Math.floor(leaf.length / 2);
      const replacement = leaf[at] === 'A' ? 'B' : 'A';
      // What an attacker with the file would do: drop the guard, edit in place.
      execFileSync('sqlite3', [
        copy,
        `DROP TRIGGER entries_no_update; UPDATE entries SET leaf = substr(leaf, 1, ${at}) || '${replacement}' || substr(leaf, ${at + 2}) WHERE idx = ${index};`,
      ]);
      const report = verifyLedgerFile(copy, { logKey: vkey });
      expect(report.ok).toBe(false);
      expect(report.failure?.where).toBe('entry');
      expect(report.failure?.index).toBe(index);
    }
  });

  it('an attacker who also rewrites the stored leaf hash is still caught at that entry (signature)', () => {
    const copy = copyOfLedger();
    const index = 5;
    const leaf = execFileSync('sqlite3', [copy, `SELECT leaf FROM entries WHERE idx = ${index}`])
      .toString()
      .trim();
    const at = leaf.length - 5; // inside the signature
    const replacement = leaf[at] === 'A' ? 'B' : 'A';
    const changed = leaf.slice(0, at) + replacement + leaf.slice(at + 1);
    const db = new Database(copy);
    db.exec('DROP TRIGGER entries_no_update');
    db.prepare('UPDATE entries SET leaf = ?, leaf_hash = ?, message_hash = ? WHERE idx = ?').run(
      changed,
      Buffer.from(leafHash(utf8(changed))),
      Buffer.from(messageHash(changed)),
      index,
    );
    db.close();
    const report = verifyLedgerFile(copy, { logKey: vkey });
    expect(report.ok).toBe(false);
    expect(report.failure?.index).toBe(index);
  });
});
