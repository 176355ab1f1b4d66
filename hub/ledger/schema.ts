// The hub's SQLite schema. The log tables (entries, nodes, checkpoints, bindings, equivocations)
// are append-only: the code has no UPDATE or DELETE for them, and these triggers make the
// database itself refuse one, so a bug or a careless operator cannot rewrite history in place.
// (Someone with the file can drop a trigger; `wattproof-hub verify` and the mirrors catch that.)
// Operational state (enrolment tokens, MQTT credentials) lives in ordinary tables beside them.
import type Database from 'better-sqlite3';

export const SCHEMA_VERSION = 1;

/** Tables nobody may update or delete from. */
export const APPEND_ONLY_TABLES = ['entries', 'nodes', 'checkpoints', 'bindings', 'equivocations'] as const;

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- One row per leaf. leaf = the compact JWS exactly as received or signed (its ASCII bytes are
-- the leaf bytes); leaf_hash = SHA-256(0x00 || leaf). The other columns are read from the leaf
-- for lookups; verify recomputes them.
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  leaf TEXT NOT NULL,
  leaf_hash BLOB NOT NULL,
  message_hash BLOB NOT NULL UNIQUE,
  typ TEXT NOT NULL,
  kid TEXT NOT NULL,
  gw TEXT,
  seq INTEGER,
  received_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS entries_gw_seq ON entries (gw, seq) WHERE gw IS NOT NULL;

-- Hashes of complete, aligned perfect subtrees of 2^level leaves (level >= 1; level 0 is
-- entries.leaf_hash), written as the accumulator completes them, so proofs are lookups.
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- Signed checkpoints (C2SP signed notes), one per tree size.
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) STRICT;

-- gateway id -> public key, as bound by a hub-signed binding entry at entries.idx.
CREATE TABLE IF NOT EXISTS bindings (
  gw TEXT PRIMARY KEY,
  public_key BLOB NOT NULL,
  idx INTEGER NOT NULL,
  site TEXT,
  participant TEXT
) STRICT;

-- Evidence: a validly signed message under a seq for which the hub already holds a different
-- one (in the log at conflicting_index, or still waiting for a gap to close: index NULL).
CREATE TABLE IF NOT EXISTS equivocations (
  id INTEGER PRIMARY KEY,
  gw TEXT NOT NULL,
  seq INTEGER NOT NULL,
  jws TEXT NOT NULL,
  message_hash BLOB NOT NULL UNIQUE,
  conflicting_hash BLOB NOT NULL,
  conflicting_index INTEGER,
  received_ms INTEGER NOT NULL
) STRICT;

-- One-time enrolment tokens: only the SHA-256 of the token is kept.
CREATE TABLE IF NOT EXISTS enroll_tokens (
  token_hash BLOB PRIMARY KEY,
  site TEXT NOT NULL,
  participant TEXT,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER,
  used_by TEXT
) STRICT;

-- MQTT credentials of enrolled gateways: PBKDF2-SHA512 hashes in Mosquitto's $7$ format, so the
-- same rows serve the embedded broker and the Mosquitto password file.
CREATE TABLE IF NOT EXISTS mqtt_credentials (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
`;

function appendOnlyTriggers(table: string): string {
  return `
CREATE TRIGGER IF NOT EXISTS ${table}_no_update BEFORE UPDATE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: rows cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS ${table}_no_delete BEFORE DELETE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: rows cannot be deleted'); END;`;
}

/**
 * Sets the pragmas and creates the schema. WAL lets readers (the API) run beside the writer;
 * synchronous=FULL makes a committed append survive a power cut, which a receipt promises.
 */
export function prepareDatabase(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Ingest dirties a random page of each index per append. A larger write-ahead log between
  // checkpoints (64 MiB instead of SQLite's 4 MiB) copies a page rewritten many times only once
  // and syncs the database file less often; the page cache keeps the indexes' hot pages. Both
  // raised ingest by about a fifth (bench/ingest-core.ts). The log file is cut back after each
  // checkpoint so it does not stay at its largest.
  db.pragma('wal_autocheckpoint = 16384');
  db.pragma('journal_size_limit = 67108864');
  db.pragma('cache_size = -65536');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${version}, newer than this hub's ${SCHEMA_VERSION}: upgrade wattproof-hub`,
    );
  }
  db.exec(TABLES + APPEND_ONLY_TABLES.map(appendOnlyTriggers).join('\n'));
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/** For tools that only read a ledger file (export, verify): check it is one, change nothing. */
export function prepareDatabaseReadOnly(db: Database.Database): void {
  const tables = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .map((r) => r.name);
  for (const t of ['meta', 'entries', 'nodes', 'checkpoints', 'bindings']) {
    if (!tables.includes(t)) throw new Error(`not a Wattproof hub ledger: table "${t}" is missing`);
  }
}
