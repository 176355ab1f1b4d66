// The hub's ledger: an append-only log of compact JWS leaves in SQLite with an RFC 6962 Merkle
// tree. Every append stores the leaf hash and the perfect subtrees the accumulator completed, so
// roots and proofs for any size are O(log n) lookups. Checkpoints are C2SP signed notes.
// There is no update or delete path here, and the schema's triggers refuse one.
import type Database from 'better-sqlite3';
import {
  b64url,
  type NoteVerifier,
  noteVerifierKey,
  openCheckpoint,
  parseNoteVerifierKey,
  signCheckpoint,
} from '../../protocol/index.js';
import { leafHashOf, messageHashOf } from '../crypto/hashes.js';
import { prepareDatabase } from './schema.js';
import { ProofSource, TreeAccumulator } from './tree.js';

/** What the ledger indexes about a leaf, read from its (already verified) JWS. */
export interface LeafMeta {
  typ: string;
  kid: string;
  /** The gateway chain the leaf belongs to (chained gateway messages only). */
  gw: string | null;
  seq: number | null;
}

export interface AppendInput extends LeafMeta {
  /** The compact JWS exactly as received or signed. */
  jws: string;
  receivedMs: number;
}

export interface Entry extends LeafMeta {
  index: number;
  jws: string;
  leafHash: Uint8Array;
  messageHash: Uint8Array;
  receivedMs: number;
}

/**
 * What a fold reads of an entry (Ledger.leaves): the fields of the same Entry, nothing converted.
 * messageHash may be a Buffer over the row's bytes rather than a Uint8Array of its own.
 */
export interface Leaf {
  index: number;
  jws: string;
  messageHash: Uint8Array;
  typ: string;
}

export interface StoredCheckpoint {
  size: number;
  root: Uint8Array;
  note: string;
  createdMs: number;
}

/** The key that signs checkpoints (and, elsewhere, hub entries). */
export interface LogSigner {
  origin: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

interface EntryRow {
  idx: number;
  leaf: string;
  leaf_hash: Buffer;
  message_hash: Buffer;
  typ: string;
  kid: string;
  gw: string | null;
  seq: number | null;
  received_ms: number;
}

interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  created_ms: number;
}

const toEntry = (r: EntryRow): Entry => ({
  index: r.idx,
  jws: r.leaf,
  leafHash: new Uint8Array(r.leaf_hash),
  messageHash: new Uint8Array(r.message_hash),
  typ: r.typ,
  kid: r.kid,
  gw: r.gw,
  seq: r.seq,
  receivedMs: r.received_ms,
});

const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  size: r.size,
  root: new Uint8Array(r.root),
  note: r.note,
  createdMs: r.created_ms,
});

/** The largest number of entries one range read returns. */
export const MAX_RANGE = 1000;
/**
 * The largest number of leaves one leaves() read returns. Not more than range()'s: read through a
 * whole log, pages of 1,000 cost less CPU than pages of 2,000 to 10,000 (measured, 200,000 leaves
 * of ~700 bytes: 0.42 s against 0.45-0.55 s), since a larger page's rows outlive V8's young
 * generation and are copied by the collector, which more than eats the fewer statement runs.
 */
export const MAX_LEAVES = 1_000;

export class Ledger {
  readonly db: Database.Database;
  private accumulator: TreeAccumulator;
  /**
   * One better-sqlite3 transaction function for every transaction: making one per call costs
   * about as much as the savepoint itself, and ingest appends entry by entry.
   */
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly signer: LogSigner | undefined;
  private readonly now: () => number;
  private readonly st: {
    insertEntry: Database.Statement<unknown[]>;
    insertNode: Database.Statement<[number, number, Buffer]>;
    count: Database.Statement<[], { n: number }>;
    entry: Database.Statement<[number], EntryRow>;
    range: Database.Statement<[number, number], EntryRow>;
    /** Raw rows: [idx, leaf, message_hash, typ]. */
    leaves: Database.Statement<[number, number], [number, string, Buffer, string]>;
    byMessageHash: Database.Statement<[Buffer], EntryRow>;
    byGwSeq: Database.Statement<[string, number], EntryRow>;
    chain: Database.Statement<[string, number, number], EntryRow>;
    head: Database.Statement<[string], EntryRow>;
    leafHash: Database.Statement<[number], { leaf_hash: Buffer }>;
    node: Database.Statement<[number, number], { hash: Buffer }>;
    insertCheckpoint: Database.Statement<[number, Buffer, string, number]>;
    latestCheckpoint: Database.Statement<[], CheckpointRow>;
    checkpointAt: Database.Statement<[number], CheckpointRow>;
    checkpointCovering: Database.Statement<[number], CheckpointRow>;
    checkpoints: Database.Statement<[number, number], CheckpointRow>;
  };

  constructor(db: Database.Database, opts: { signer?: LogSigner; now?: () => number } = {}) {
    this.db = db;
    prepareDatabase(db);
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
    this.signer = opts.signer;
    this.now = opts.now ?? Date.now;
    const cols = 'idx, leaf, leaf_hash, message_hash, typ, kid, gw, seq, received_ms';
    this.st = {
      insertEntry: db.prepare(
        `INSERT INTO entries (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ) as Database.Statement<unknown[]>,
      insertNode: db.prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
      count: db.prepare('SELECT COUNT(*) AS n FROM entries'),
      entry: db.prepare(`SELECT ${cols} FROM entries WHERE idx = ?`),
      range: db.prepare(`SELECT ${cols} FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx`),
      leaves: db
        .prepare<[number, number], [number, string, Buffer, string]>(
          'SELECT idx, leaf, message_hash, typ FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
        )
        .raw(),
      byMessageHash: db.prepare(`SELECT ${cols} FROM entries WHERE message_hash = ?`),
      byGwSeq: db.prepare(`SELECT ${cols} FROM entries WHERE gw = ? AND seq = ?`),
      chain: db.prepare(`SELECT ${cols} FROM entries WHERE gw = ? AND seq >= ? ORDER BY seq LIMIT ?`),
      head: db.prepare(`SELECT ${cols} FROM entries WHERE gw = ? ORDER BY seq DESC LIMIT 1`),
      leafHash: db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?'),
      node: db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?'),
      insertCheckpoint: db.prepare(
        'INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?, ?, ?, ?)',
      ),
      latestCheckpoint: db.prepare('SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1'),
      checkpointAt: db.prepare('SELECT * FROM checkpoints WHERE size = ?'),
      checkpointCovering: db.prepare('SELECT * FROM checkpoints WHERE size > ? ORDER BY size LIMIT 1'),
      checkpoints: db.prepare('SELECT * FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?'),
    };
    const size = this.st.count.get()?.n ?? 0;
    this.accumulator = TreeAccumulator.restore(size, this.hashAt);
    if (this.signer) this.bindLogKey(this.signer);
  }

  /**
   * Records the log's origin and key on first use and refuses a different one later: one ledger
   * file is one log, signed by one key.
   */
  private bindLogKey(signer: LogSigner): void {
    recordLogIdentity(this.db, signer.origin, signer.publicKey);
  }

  get size(): number {
    return this.accumulator.size;
  }

  get origin(): string | undefined {
    return this.signer?.origin;
  }

  /** The C2SP verifier key of this ledger's checkpoints (when it signs them). */
  verifierKey(): string | undefined {
    return this.signer ? noteVerifierKey(this.signer.origin, this.signer.publicKey) : undefined;
  }

  /** The stored hash of the complete subtree of 2^level leaves starting at index·2^level. */
  readonly hashAt = (level: number, index: number): Uint8Array => {
    const row = level === 0 ? this.st.leafHash.get(index) : this.st.node.get(level, index);
    if (!row) throw new RangeError(`no stored subtree at level ${level}, index ${index}`);
    return new Uint8Array('leaf_hash' in row ? row.leaf_hash : row.hash);
  };

  /**
   * Runs `fn` in one IMMEDIATE transaction; if it throws, nothing it appended stays.
   *
   * `groupCommit`: commit without waiting for the disk (synchronous=NORMAL in WAL mode). The
   * transaction is atomic and survives a crash of the process, but a power cut can lose it until
   * the next synchronous=FULL commit, which syncs the write-ahead log with everything before it.
   * Every checkpoint is such a commit, so whoever promises durability (a receipt) waits for the
   * checkpoint that covers the entry; ingest does.
   */
  transaction<T>(fn: () => T, opts: { groupCommit?: boolean } = {}): T {
    const before = this.accumulator.size;
    const relaxed = opts.groupCommit === true && !this.db.inTransaction;
    // exec, not a prepared statement: SQLite applies this pragma when it compiles it.
    if (relaxed) this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return this.runInTransaction.immediate(fn) as T;
    } catch (err) {
      if (this.accumulator.size !== before) this.accumulator = TreeAccumulator.restore(before, this.hashAt);
      throw err;
    } finally {
      if (relaxed) this.db.exec('PRAGMA synchronous = FULL');
    }
  }

  /**
   * Appends leaves in order, in one transaction (or inside the caller's). Returns the new entries.
   * Throws (and appends nothing) if a leaf repeats a message hash or a (gw, seq) already present.
   */
  append(inputs: readonly AppendInput[]): Entry[] {
    return this.transaction(() => {
      const out: Entry[] = [];
      for (const input of inputs) {
        const index = this.accumulator.size;
        const lh = leafHashOf(input.jws);
        const mh = messageHashOf(input.jws);
        this.st.insertEntry.run(
          index,
          input.jws,
          Buffer.from(lh),
          Buffer.from(mh),
          input.typ,
          input.kid,
          input.gw,
          input.seq,
          input.receivedMs,
        );
        for (const sub of this.accumulator.append(lh)) {
          if (sub.level > 0) this.st.insertNode.run(sub.level, sub.index, Buffer.from(sub.hash));
        }
        out.push({ ...input, index, leafHash: lh, messageHash: mh });
      }
      return out;
    });
  }

  entry(index: number): Entry | undefined {
    const row = this.st.entry.get(index);
    return row ? toEntry(row) : undefined;
  }

  /** Entries [start, end), at most MAX_RANGE of them. */
  range(start: number, end: number): Entry[] {
    const stop = Math.min(end, start + MAX_RANGE, this.size);
    return this.st.range.all(start, stop).map(toEntry);
  }

  /**
   * Leaves [start, end), at most MAX_LEAVES of them, end clamped to the log's size: for a fold that
   * reads the whole log, the four fields it needs of what range() returns, read as raw rows (no
   * per-row column names, no copy of the blobs). `start` and `end` must be
   * integers with 0 <= start; an `end` at or before `start` reads nothing.
   */
  leaves(start: number, end: number): Leaf[] {
    if (!Number.isSafeInteger(start) || start < 0)
      throw new RangeError(`leaves: start must be an integer >= 0 (got ${start})`);
    if (!Number.isSafeInteger(end)) throw new RangeError(`leaves: end must be an integer (got ${end})`);
    const stop = Math.min(end, start + MAX_LEAVES, this.size);
    if (stop <= start) return [];
    const rows = this.st.leaves.all(start, stop);
    const out: Leaf[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as [number, string, Buffer, string];
      out[i] = { index: r[0], jws: r[1], messageHash: r[2], typ: r[3] };
    }
    return out;
  }

  entryByMessageHash(hash: Uint8Array): Entry | undefined {
    const row = this.st.byMessageHash.get(Buffer.from(hash));
    return row ? toEntry(row) : undefined;
  }

  entryByGatewaySeq(gw: string, seq: number): Entry | undefined {
    const row = this.st.byGwSeq.get(gw, seq);
    return row ? toEntry(row) : undefined;
  }

  /** A gateway's chained messages from `fromSeq`, in seq order. */
  gatewayChain(gw: string, fromSeq = 0, limit = MAX_RANGE): Entry[] {
    return this.st.chain.all(gw, fromSeq, Math.min(limit, MAX_RANGE)).map(toEntry);
  }

  /** The gateway's entry with the highest seq. */
  gatewayHead(gw: string): Entry | undefined {
    const row = this.st.head.get(gw);
    return row ? toEntry(row) : undefined;
  }

  root(size = this.size): Uint8Array {
    if (size === this.size) return this.accumulator.root();
    this.checkSize('size', size);
    return new ProofSource(this.hashAt).rangeHash(0, size);
  }

  /** The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
  inclusionProof(index: number, size: number, source: ProofSource = this.proofSource()): Uint8Array[] {
    this.checkSize('size', size);
    return source.inclusionProof(index, size);
  }

  /**
   * Proofs for many leaves against one tree size (the receipts of one checkpoint share the right
   * edge and most upper nodes): it remembers every subtree it read and every range it hashed.
   */
  proofSource(): ProofSource {
    const memo = new Map<number, Uint8Array>();
    return new ProofSource((level, index) => {
      // level < 64 and index < 2^46 for any real log: one number keys both.
      const key = index * 64 + level;
      let h = memo.get(key);
      if (!h) {
        h = this.hashAt(level, index);
        memo.set(key, h);
      }
      return h;
    });
  }

  consistencyProof(first: number, second: number): Uint8Array[] {
    this.checkSize('second', second);
    return this.proofSource().consistencyProof(first, second);
  }

  private checkSize(name: string, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`${name} ${size} is outside 0..${this.size} (the current tree size)`);
    }
  }

  /**
   * Signs and stores a checkpoint for the current size, unless one exists for it. Returns the
   * newest checkpoint.
   */
  checkpoint(): StoredCheckpoint | undefined {
    // Runs with synchronous=FULL (the database's setting outside group commits): its commit syncs
    // the write-ahead log, so every entry it covers is on disk before anyone hears of it.
    const latest = this.latestCheckpoint();
    if (latest && latest.size === this.size) return latest;
    if (!this.signer) throw new Error('this ledger has no log key; it cannot sign checkpoints');
    if (this.size === 0) return undefined;
    const size = this.size;
    const root = this.root();
    const { origin, secretKey, publicKey } = this.signer;
    const note = signCheckpoint({ origin, size, root }, origin, secretKey, publicKey);
    const cp = { size, root, note, createdMs: this.now() };
    this.st.insertCheckpoint.run(size, Buffer.from(root), note, cp.createdMs);
    return cp;
  }

  /**
   * Stores a checkpoint signed elsewhere (a mirror keeps its source's). It must verify with one of
   * `verifiers`, and its root must be this ledger's root at that size.
   */
  addSignedCheckpoint(note: string, verifiers: readonly NoteVerifier[]): StoredCheckpoint {
    const opened = openCheckpoint(note, verifiers);
    if (!opened.ok) throw new Error(`checkpoint refused: ${opened.reason}`);
    const { size, root } = opened.checkpoint;
    if (size > this.size)
      throw new Error(`checkpoint size ${size} is beyond this copy's ${this.size} entries`);
    const mine = this.root(size);
    if (b64url.encode(mine) !== b64url.encode(root)) {
      throw new Error(`checkpoint root at size ${size} differs from the root of the entries held`);
    }
    const existing = this.checkpointAt(size);
    if (existing) return existing;
    const cp = { size, root, note, createdMs: this.now() };
    this.st.insertCheckpoint.run(size, Buffer.from(root), note, cp.createdMs);
    return cp;
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    const row = this.st.latestCheckpoint.get();
    return row ? toCheckpoint(row) : undefined;
  }

  checkpointAt(size: number): StoredCheckpoint | undefined {
    const row = this.st.checkpointAt.get(size);
    return row ? toCheckpoint(row) : undefined;
  }

  /** The oldest checkpoint that covers leaf `index` (size > index). */
  checkpointCovering(index: number): StoredCheckpoint | undefined {
    const row = this.st.checkpointCovering.get(index);
    return row ? toCheckpoint(row) : undefined;
  }

  checkpoints(fromSize = 0, limit = MAX_RANGE): StoredCheckpoint[] {
    return this.st.checkpoints.all(fromSize, Math.min(limit, MAX_RANGE)).map(toCheckpoint);
  }
}

/** Parses a C2SP verifier key string, with a message naming where it came from. */
export function verifierFromKey(vkey: string, where: string): NoteVerifier {
  try {
    return parseNoteVerifierKey(vkey);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** The origin and public key of the log a ledger file belongs to (undefined for a fresh file). */
export function readLogIdentity(
  db: Database.Database,
): { origin: string; publicKey: Uint8Array } | undefined {
  const get = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  const origin = get.get('log_origin')?.value;
  const key = get.get('log_public_key')?.value;
  if (origin === undefined || key === undefined) return undefined;
  return { origin, publicKey: b64url.decode(key) };
}

/** Records the log identity of a fresh ledger file, or throws if the file belongs to another log. */
export function recordLogIdentity(db: Database.Database, origin: string, publicKey: Uint8Array): void {
  const stored = readLogIdentity(db);
  if (!stored) {
    const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    db.transaction(() => {
      put.run('log_origin', origin);
      put.run('log_public_key', b64url.encode(publicKey));
    })();
    return;
  }
  if (stored.origin !== origin || b64url.encode(stored.publicKey) !== b64url.encode(publicKey)) {
    throw new Error(
      `this ledger belongs to log "${stored.origin}" with another key, not to "${origin}" with this key`,
    );
  }
}
