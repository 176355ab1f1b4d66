// `wattproof-hub export`: writes a ledger in the portable format of docs/ledger.md —
// entries.jsonl (one entry per line, leaf order, the compact JWS exactly as stored; streamed
// from the database, so the log's size is bounded by the disk, not by memory),
// checkpoints.txt (the C2SP signed notes, one empty line between them) and keys.json (the log key
// and every key the log bound) — which `wattproof-verify DIR` checks without the hub's code.
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { b64url, deriveId, noteVerifierKey } from '../../protocol/index.js';
import { KEYS_FORMAT, type KeysFile, type LedgerExportInput } from '../../protocol/ledger-export.js';
import { readLogIdentity } from '../ledger/ledger.js';
import { prepareDatabaseReadOnly } from '../ledger/schema.js';

interface Row {
  idx: number;
  leaf: string;
  leaf_hash: Buffer;
  typ: string;
  kid: string;
}

function entryLine(r: Row): string {
  return `${JSON.stringify({ index: r.idx, leaf: r.leaf, typ: r.typ, kid: r.kid, leafHash: b64url.encode(r.leaf_hash) })}\n`;
}

function keysFile(db: Database.Database): KeysFile {
  const id = readLogIdentity(db);
  if (!id) throw new Error('this database has no log identity (origin and key): is it a hub ledger?');
  const hub = deriveId('hub', id.publicKey);
  const keys: Record<string, string> = { [hub]: b64url.encode(id.publicKey) };
  const rows = db
    .prepare<[], { gw: string; public_key: Buffer }>('SELECT gw, public_key FROM bindings ORDER BY idx')
    .all();
  for (const r of rows) keys[r.gw] = b64url.encode(r.public_key);
  return {
    format: KEYS_FORMAT,
    log: { origin: id.origin, hub, vkey: noteVerifierKey(id.origin, id.publicKey) },
    keys,
  };
}

/** entries.jsonl line by line, each with its "\n", read from the database as it goes. */
export function* entryLines(db: Database.Database): Generator<string> {
  const it = db.prepare<[], Row>('SELECT idx, leaf, leaf_hash, typ, kid FROM entries ORDER BY idx').iterate();
  for (const r of it) yield entryLine(r);
}

function checkpointsText(db: Database.Database): string {
  const notes = db.prepare<[], { note: string }>('SELECT note FROM checkpoints ORDER BY size').all();
  return notes.map((n) => n.note).join('\n');
}

/**
 * The export as the verifier reads it, entries streamed from the database (a log of any size fits:
 * nothing holds all of entries.jsonl at once). Iterate it inside one read transaction.
 */
export function ledgerExportInput(db: Database.Database): LedgerExportInput {
  return {
    entries: entryLines(db),
    checkpoints: checkpointsText(db),
    keys: `${JSON.stringify(keysFile(db), null, 2)}\n`,
  };
}

/** How many bytes of entries.jsonl are written at once. */
const WRITE_CHUNK = 1 << 20;

/** Writes the export into `outDir` (created if needed); each file appears whole or not at all. */
export function writeLedgerExport(
  db: Database.Database,
  outDir: string,
  opts: { onProgress?: (entriesWritten: number) => void; progressEvery?: number } = {},
): { entries: number; checkpoints: number } {
  const every = opts.progressEvery ?? 100_000;
  prepareDatabaseReadOnly(db);
  mkdirSync(outDir, { recursive: true });
  // One read transaction, so entries, checkpoints and keys are from the same moment.
  return db.transaction(() => {
    const write = (name: string, fill: (fd: number) => void) => {
      const tmp = path.join(outDir, `.${name}.tmp`);
      const fd = openSync(tmp, 'w', 0o644);
      try {
        fill(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path.join(outDir, name));
    };
    let entries = 0;
    write('entries.jsonl', (fd) => {
      // Streamed: lines are gathered into chunks of about 1 MiB and written as they fill.
      let chunk: string[] = [];
      let chunkLength = 0;
      for (const line of entryLines(db)) {
        chunk.push(line);
        chunkLength += line.length;
        entries++;
        if (chunkLength >= WRITE_CHUNK) {
          writeSync(fd, chunk.join(''));
          chunk = [];
          chunkLength = 0;
        }
        if (entries % every === 0) opts.onProgress?.(entries);
      }
      if (chunk.length > 0) writeSync(fd, chunk.join(''));
    });
    const cps = checkpointsText(db);
    write('checkpoints.txt', (fd) => writeSync(fd, cps));
    write('keys.json', (fd) => writeSync(fd, `${JSON.stringify(keysFile(db), null, 2)}\n`));
    return { entries, checkpoints: cps === '' ? 0 : cps.split('\n\n').length };
  })();
}
