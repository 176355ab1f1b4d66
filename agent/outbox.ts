// The outbox: every signed chained message is written here — in the same SQLite transaction that
// assigns its sequence number and advances the chain head — before anything tries to send it, and
// it stays until the hub's receipt names it (its message hash and leaf hash). WAL with
// synchronous=FULL, so a committed message survives a power cut. Because seq and prev are read and
// written inside one write transaction, a crash can only lose a message that was never committed
// (and so never sent): the chain continues, never forks, never repeats a number.
import Database from 'better-sqlite3';
import { b64url, concatBytes, messageHashB64, sha256, signJws, utf8 } from '../protocol/index.js';
import type { MeterState } from './metering.js';

export const OUTBOX_FILE = 'outbox.sqlite';

export type OutboxKind = 'proof' | 'event';

export interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  jws: string;
  messageHash: string;
  leafHash: string;
  createdAt: number;
  sendCount: number;
  rejectedReason: string | null;
}

export interface ChainLink {
  gw: string;
  seq: number;
  prev: string | null;
}

export interface LastReceipt {
  seq: number;
  index: number;
  leafHash: string;
  status: string;
  at: number;
}

export interface ReceiptRef {
  seq: number;
  messageHash: string;
  leafHash: string;
  index: number;
  status: string;
}

export type ReceiptOutcome =
  | { ok: true; deleted: boolean }
  | { ok: false; reason: 'unknown-seq' | 'hash-mismatch' | 'leaf-mismatch'; detail: string };

/** Leaf hash of a ledger entry: SHA-256(0x00 || ASCII bytes of the compact JWS), RFC 6962. */
export function leafHashOf(jws: string): string {
  return b64url.encode(sha256(concatBytes(new Uint8Array([0]), utf8(jws))));
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chain_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  jws TEXT NOT NULL,
  message_hash TEXT NOT NULL,
  leaf_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  send_count INTEGER NOT NULL DEFAULT 0,
  rejected_reason TEXT
);
CREATE TABLE IF NOT EXISTS meter_state (
  name TEXT PRIMARY KEY,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT OR IGNORE INTO chain_head (id, seq, hash) VALUES (1, -1, NULL);
`;

export class Outbox {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(
    file: string,
    private readonly signer: { gatewayId: string; secretKey: Uint8Array },
    opts: { readonly?: boolean } = {},
  ) {
    this.db = new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      // FULL: a transaction is on disk when commit returns, WAL or not.
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
    }
    this.db.pragma('busy_timeout = 5000');
    this.stmts = {
      head: this.db.prepare<[], { seq: number; hash: string | null }>(
        'SELECT seq, hash FROM chain_head WHERE id = 1',
      ),
      setHead: opts.readonly
        ? undefined
        : this.db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1'),
      insert: opts.readonly
        ? undefined
        : this.db.prepare(
            'INSERT INTO outbox (seq, kind, jws, message_hash, leaf_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          ),
      pending: this.db.prepare<[number, number], RawRow>(
        'SELECT * FROM outbox WHERE rejected_reason IS NULL AND seq > ? ORDER BY seq LIMIT ?',
      ),
      bySeq: this.db.prepare<[number], RawRow>('SELECT * FROM outbox WHERE seq = ?'),
      count: this.db.prepare<[], { n: number; oldest: number | null; oldestSeq: number | null }>(
        'SELECT COUNT(*) AS n, MIN(created_at) AS oldest, MIN(seq) AS oldestSeq FROM outbox WHERE rejected_reason IS NULL',
      ),
      rejectedCount: this.db.prepare<[], { n: number }>(
        'SELECT COUNT(*) AS n FROM outbox WHERE rejected_reason IS NOT NULL',
      ),
      getMeta: this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      meterState: this.db.prepare<[string], { state: string }>(
        'SELECT state FROM meter_state WHERE name = ?',
      ),
    };
  }

  close(): void {
    this.db.close();
  }

  head(): { seq: number; hash: string | null } {
    return this.stmts.head.get()!;
  }

  /**
   * Signs and stores one chained message atomically. `build` receives the chain link (gw, seq,
   * prev) and returns the JWS typ and payload; `alsoWrite` runs inside the same transaction (e.g.
   * the meter's next state, so a restart neither repeats nor loses this interval).
   */
  appendSigned(
    kind: OutboxKind,
    build: (link: ChainLink) => { typ: string; payload: unknown },
    createdAt: number,
    alsoWrite?: () => void,
  ): OutboxRow {
    const tx = this.db.transaction((): OutboxRow => {
      const head = this.stmts.head.get()!;
      const link: ChainLink = {
        gw: this.signer.gatewayId,
        seq: head.seq + 1,
        prev: head.seq < 0 ? null : head.hash,
      };
      const { typ, payload } = build(link);
      const jws = signJws(typ, this.signer.gatewayId, payload, this.signer.secretKey);
      const messageHash = messageHashB64(jws);
      const leafHash = leafHashOf(jws);
      this.stmts.insert!.run(link.seq, kind, jws, messageHash, leafHash, createdAt);
      this.stmts.setHead!.run(link.seq, messageHash);
      alsoWrite?.();
      return {
        seq: link.seq,
        kind,
        jws,
        messageHash,
        leafHash,
        createdAt,
        sendCount: 0,
        rejectedReason: null,
      };
    });
    // IMMEDIATE: take the write lock before reading the head, so two writers cannot both read it.
    return tx.immediate();
  }

  /** Unsent-or-unreceipted messages after `afterSeq`, oldest first. */
  pending(afterSeq: number, limit: number): OutboxRow[] {
    return this.stmts.pending.all(afterSeq, limit).map(fromRaw);
  }

  get(seq: number): OutboxRow | undefined {
    const r = this.stmts.bySeq.get(seq);
    return r ? fromRaw(r) : undefined;
  }

  /**
   * Applies an accepted/duplicate receipt: deletes the message only when the receipt's message
   * hash and leaf hash are those of the stored message.
   */
  applyReceipt(r: ReceiptRef, at: number): ReceiptOutcome {
    return this.applyReceipts([r], at)[0]!;
  }

  /**
   * Applies several receipts in one transaction (one fsync): after an outage receipts come in
   * bursts, and a deletion lost in a crash costs only a resend that the hub answers again.
   */
  applyReceipts(receipts: readonly ReceiptRef[], at: number): ReceiptOutcome[] {
    return this.db.transaction(() => receipts.map((r) => this.applyOne(r, at))).immediate();
  }

  private applyOne(r: ReceiptRef, at: number): ReceiptOutcome {
    const row = this.stmts.bySeq.get(r.seq);
    if (!row) {
      const last = this.lastReceipt();
      // A repeated receipt for a message already deleted is harmless.
      if (last && last.seq >= r.seq) return { ok: true, deleted: false };
      return { ok: false, reason: 'unknown-seq', detail: `no message with seq ${r.seq} in the outbox` };
    }
    if (row.message_hash !== r.messageHash) {
      return {
        ok: false,
        reason: 'hash-mismatch',
        detail: `receipt for seq ${r.seq} names another message`,
      };
    }
    if (row.leaf_hash !== r.leafHash) {
      return {
        ok: false,
        reason: 'leaf-mismatch',
        detail: `receipt for seq ${r.seq} has a wrong leaf hash`,
      };
    }
    this.db.prepare('DELETE FROM outbox WHERE seq = ?').run(r.seq);
    const prev = this.lastReceipt();
    if (!prev || prev.seq <= r.seq) {
      const value: LastReceipt = { seq: r.seq, index: r.index, leafHash: r.leafHash, status: r.status, at };
      this.setMeta('lastReceipt', JSON.stringify(value));
    }
    return { ok: true, deleted: true };
  }

  /** The hub refused the message for good: keep it (never delete a proof) but stop resending. */
  markRejected(seq: number, messageHash: string, reason: string): boolean {
    const res = this.db
      .prepare('UPDATE outbox SET rejected_reason = ? WHERE seq = ? AND message_hash = ?')
      .run(reason, seq, messageHash);
    return res.changes > 0;
  }

  depth(): { pending: number; oldestCreatedAt: number | null; oldestSeq: number | null; rejected: number } {
    const c = this.stmts.count.get()!;
    return {
      pending: c.n,
      oldestCreatedAt: c.oldest,
      oldestSeq: c.oldestSeq,
      rejected: this.stmts.rejectedCount.get()!.n,
    };
  }

  lastReceipt(): LastReceipt | undefined {
    const v = this.getMeta('lastReceipt');
    return v ? (JSON.parse(v) as LastReceipt) : undefined;
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  meterState(name: string): MeterState | undefined {
    const r = this.stmts.meterState.get(name);
    return r ? (JSON.parse(r.state) as MeterState) : undefined;
  }

  /** Call inside appendSigned's `alsoWrite`, or alone when an interval opens without a proof. */
  saveMeterState(name: string, state: MeterState): void {
    this.db
      .prepare(
        'INSERT INTO meter_state (name, state) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state',
      )
      .run(name, JSON.stringify(state));
  }
}

interface RawRow {
  seq: number;
  kind: string;
  jws: string;
  message_hash: string;
  leaf_hash: string;
  created_at: number;
  send_count: number;
  rejected_reason: string | null;
}

function fromRaw(r: RawRow): OutboxRow {
  return {
    seq: r.seq,
    kind: r.kind as OutboxKind,
    jws: r.jws,
    messageHash: r.message_hash,
    leafHash: r.leaf_hash,
    createdAt: r.created_at,
    sendCount: r.send_count,
    rejectedReason: r.rejected_reason,
  };
}
