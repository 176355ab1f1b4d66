// Backup and restore of the hub's ledger file.
//
// Backup copies a live ledger with SQLite's online backup API while the hub keeps appending. The
// copy is taken inside one read transaction on the source: in WAL mode a reader sees one snapshot
// and never blocks the writer, so the copy is exactly the log as it stood when the backup began,
// and the backup does not restart each time the hub commits (without that read transaction,
// sqlite3_backup restarts on every change by another connection and may never finish on a busy
// hub). The copy is written under a temporary name (mode 0600, exclusive create), switched to a
// plain rollback-journal file (one self-contained file), fsynced, and linked to its final name,
// which refuses an existing file: a backup never overwrites anything.
//
// Restore puts a backup in place as DATADIR/ledger.db, but only when no process holds that
// ledger open (a running hub does, for its whole life), when the data folder's hub.key is the key
// the backup's log was signed with, and when `verify` passes on the copy. A ledger it replaces is
// kept beside it, never deleted.
import {
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { b64, b64url, bytesEqual, noteVerifierKey } from '../../protocol/index.js';
import { loadValidatorKey, VALIDATOR_KEY_FILE } from '../engine/validator-key.js';
import { KEY_FILE, LEDGER_FILE } from '../hub.js';
import { loadHubKey } from '../keys.js';
import { readLogIdentity } from '../ledger/ledger.js';
import { prepareDatabaseReadOnly } from '../ledger/schema.js';
import { type LedgerDbReport, verifyLedgerFile } from '../verify/verify-ledger.js';

/** A refusal: nothing was written or changed. The message names what to do. */
export class BackupRefused extends Error {
  override name = 'BackupRefused';
}

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

/** What a copy of the ledger holds: its entries and its signed tree head. */
export interface LedgerSummary {
  entries: number;
  origin: string | undefined;
  /** The log's C2SP verifier key, from the identity the file records. */
  logVerifierKey: string | undefined;
  /** The latest signed checkpoint in the copy (the tree head), if any. */
  checkpoint: { size: number; root: string; note: string } | undefined;
}

export interface BackupResult extends LedgerSummary {
  file: string;
  bytes: number;
  pages: number;
  steps: number;
  ms: number;
}

interface SummaryRow {
  size: number;
  root: Buffer;
  note: string;
}

/** Reads the entry count, log identity and latest checkpoint (inside the caller's transaction). */
function summarise(db: Database.Database): LedgerSummary {
  const entries = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM entries').get()?.n ?? 0;
  const cp = db
    .prepare<[], SummaryRow>('SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1')
    .get();
  const id = readLogIdentity(db);
  return {
    entries,
    origin: id?.origin,
    logVerifierKey: id ? noteVerifierKey(id.origin, id.publicKey) : undefined,
    checkpoint: cp ? { size: cp.size, root: b64.encode(cp.root), note: cp.note } : undefined,
  };
}

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
}

/**
 * Copies the ledger at `source` (which a running hub may be writing) to the new file `dest`.
 * `pagesPerStep` pages are copied per step; between steps the event loop runs and `onProgress`
 * is told how far it is.
 */
export async function backupLedger(
  source: string,
  dest: string,
  opts: { pagesPerStep?: number; onProgress?: (p: BackupProgress) => void } = {},
): Promise<BackupResult> {
  const pagesPerStep = opts.pagesPerStep ?? 1024;
  if (!Number.isInteger(pagesPerStep) || pagesPerStep < 1)
    throw new RangeError('pagesPerStep: must be an integer ≥ 1');
  if (!existsSync(source)) throw new BackupRefused(`${source} does not exist: is --data the hub's dataDir?`);
  if (existsSync(dest)) {
    throw new BackupRefused(`${dest} exists: a backup never overwrites a file; name a new one`);
  }
  const destDir = path.dirname(path.resolve(dest));
  if (!existsSync(destDir)) {
    throw new BackupRefused(
      `${destDir} does not exist: create it first (mode 0700, owned by the hub's user)`,
    );
  }
  const started = Date.now();
  // Created here, empty, 0600, exclusively: SQLite then writes into it and keeps its mode (and
  // gives its journal the same mode).
  const tmp = `${dest}.partial-${process.pid}`;
  closeSync(openSync(tmp, 'wx', 0o600));
  const src = new Database(source, { readonly: true, fileMustExist: true });
  try {
    src.pragma('busy_timeout = 5000');
    prepareDatabaseReadOnly(src);
    // The read transaction that pins the snapshot: it starts with the first read.
    src.exec('BEGIN');
    const summary = summarise(src);
    let steps = 1;
    const done = await src.backup(tmp, {
      progress: (p: BackupProgress) => {
        steps++;
        opts.onProgress?.(p);
        return pagesPerStep;
      },
    });
    opts.onProgress?.(done);
    src.exec('COMMIT');
    // One self-contained file (no -wal beside it), checked against what the snapshot held.
    const copy = new Database(tmp, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
      const n = copy.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM entries').get()?.n;
      if (n !== summary.entries) {
        throw new Error(`the copy holds ${n} entries, the snapshot ${summary.entries}: backup failed`);
      }
    } finally {
      copy.close();
    }
    fsyncPath(tmp);
    try {
      linkSync(tmp, dest); // fails if dest appeared meanwhile: never overwrite
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BackupRefused(`${dest} exists: a backup never overwrites a file; name a new one`);
      }
      throw err;
    }
    unlinkSync(tmp);
    fsyncPath(path.dirname(path.resolve(dest)));
    return {
      ...summary,
      file: dest,
      bytes: statSync(dest).size,
      pages: done.totalPages,
      steps,
      ms: Date.now() - started,
    };
  } finally {
    if (src.inTransaction) src.exec('ROLLBACK');
    src.close();
    removeQuietly(tmp);
  }
}

/**
 * Whether a process holds the ledger file open. Every connection to a WAL database holds a shared
 * lock for as long as it is open, so an exclusive lock is refused while the hub (or `token
 * create`, or a backup) runs, idle or not.
 */
export function ledgerInUse(file: string): boolean {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) return true;
    throw err;
  } finally {
    db.close();
  }
}

export interface RestoreResult extends LedgerSummary {
  file: string;
  /** Where the ledger that was replaced now is (with --replace). */
  replacedKeptAs: string | undefined;
  verify: LedgerDbReport;
  /** What the operator must do before gateways can work with the restored hub. */
  warnings: string[];
}

/**
 * Gateways bound in the log but without MQTT credentials in the file: a mirror's copy holds the
 * log but none of the hub's secrets-derived tables, so its gateways cannot log in to the broker.
 */
function gatewaysWithoutCredentials(db: Database.Database): number {
  return (
    db
      .prepare<[], { n: number }>(
        'SELECT COUNT(*) AS n FROM bindings WHERE gw NOT IN (SELECT username FROM mqtt_credentials)',
      )
      .get()?.n ?? 0
  );
}

/**
 * Restores `backup` as `dataDir/ledger.db`. Refuses (BackupRefused, nothing changed) when a process
 * holds the current ledger open, when one exists and `replace` is not set, when the data folder's
 * hub.key is missing or is not the backup's log key, or when `verify` fails on the copy.
 */
export async function restoreLedger(
  backup: string,
  dataDir: string,
  opts: { replace?: boolean; logKey?: string; now?: () => number } = {},
): Promise<RestoreResult> {
  const target = path.join(dataDir, LEDGER_FILE);
  if (!existsSync(backup)) throw new BackupRefused(`${backup} does not exist`);
  if (existsSync(target)) {
    if (ledgerInUse(target)) {
      throw new BackupRefused(
        `${target} is open in a running process (the hub?): stop it first (systemctl stop wattproof-hub); nothing was changed`,
      );
    }
    if (!opts.replace) {
      throw new BackupRefused(
        `${target} exists: restore does not overwrite a ledger unless --replace is given (the current file is then kept beside it)`,
      );
    }
  } else if (existsSync(`${target}-wal`)) {
    // A write-ahead log without its database would be replayed into the restored file.
    throw new BackupRefused(`${target}-wal exists without ${target}: move it away first`);
  }

  // The log identity of the backup, and the hub key that must sign its next checkpoints.
  const src = new Database(backup, { readonly: true, fileMustExist: true });
  let identity: ReturnType<typeof readLogIdentity>;
  try {
    prepareDatabaseReadOnly(src);
    identity = readLogIdentity(src);
  } finally {
    src.close();
  }
  if (!identity) throw new BackupRefused(`${backup} records no log identity: is it a hub ledger backup?`);
  const keyFile = path.join(dataDir, KEY_FILE);
  if (!existsSync(keyFile)) {
    throw new BackupRefused(
      `${keyFile} is missing: copy the hub's log key (kept apart from ledger backups) there first, mode 0600; a hub started without it would make a new key and refuse this ledger`,
    );
  }
  const hubKey = loadHubKey(keyFile);
  if (!bytesEqual(hubKey.publicKey, identity.publicKey)) {
    throw new BackupRefused(
      `${keyFile} is not the key of the backup's log "${identity.origin}" (its key is ${b64url.encode(identity.publicKey)}): put that log's hub.key there`,
    );
  }

  // Copy into the data folder under a temporary name, verify there, then rename into place.
  const tmp = path.join(dataDir, `.${LEDGER_FILE}.restore-${process.pid}`);
  removeQuietly(tmp);
  closeSync(openSync(tmp, 'wx', 0o600));
  try {
    const from = new Database(backup, { readonly: true, fileMustExist: true });
    try {
      await from.backup(tmp);
    } finally {
      from.close();
    }
    const copy = new Database(tmp, { fileMustExist: true });
    let summary: LedgerSummary;
    let uncredentialled: number;
    try {
      copy.pragma('journal_mode = DELETE');
      summary = copy.transaction(() => summarise(copy))();
      uncredentialled = gatewaysWithoutCredentials(copy);
    } finally {
      copy.close();
    }
    const validatorKeyFile = path.join(dataDir, VALIDATOR_KEY_FILE);
    const report = verifyLedgerFile(tmp, {
      ...(opts.logKey ? { logKey: opts.logKey } : {}),
      ...(existsSync(validatorKeyFile)
        ? { validatorKeys: [loadValidatorKey(validatorKeyFile).publicKey] }
        : {}),
    });
    if (!report.ok) {
      const f = report.failure;
      const where =
        f?.where === 'entry' && f.index !== undefined ? `entry ${f.index}` : (f?.where ?? 'ledger');
      throw new BackupRefused(
        `verify failed on ${backup} at ${where}: ${f?.reason}: ${f?.detail}; nothing was changed`,
      );
    }
    fsyncPath(tmp);
    let replacedKeptAs: string | undefined;
    if (existsSync(target)) {
      // Moved with its -wal and -shm, so SQLite still finds them under the new name.
      const stamp = new Date((opts.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-');
      replacedKeptAs = `${target}.replaced-${stamp}`;
      renameSync(target, replacedKeptAs);
      for (const suffix of ['-wal', '-shm']) {
        if (existsSync(target + suffix)) renameSync(target + suffix, replacedKeptAs + suffix);
      }
    }
    rmSync(`${target}-shm`, { force: true });
    // Run as root on the hub's folder: the file must still be the hub's, or it cannot open it.
    const owner = statSync(dataDir);
    if (process.getuid?.() === 0 && owner.uid !== 0) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, target);
    fsyncPath(dataDir);
    const warnings =
      uncredentialled > 0
        ? [
            `${uncredentialled} gateways bound in the log have no MQTT credentials in this file (a mirror's copy holds none): each must enrol again with a new token before it can connect (its key and chain continue)`,
          ]
        : [];
    return { ...summary, file: target, replacedKeptAs, verify: report, warnings };
  } finally {
    removeQuietly(tmp);
  }
}
