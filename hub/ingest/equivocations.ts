// Evidence of equivocation: two validly signed messages from one gateway under one seq. Kept in
// an append-only table (never in the log as valid), served at GET /v1/equivocations.
import type Database from 'better-sqlite3';

export interface Equivocation {
  id: number;
  gw: string;
  seq: number;
  jws: string;
  messageHash: Uint8Array;
  conflictingHash: Uint8Array;
  conflictingIndex: number | null;
  receivedMs: number;
}

interface Row {
  id: number;
  gw: string;
  seq: number;
  jws: string;
  message_hash: Buffer;
  conflicting_hash: Buffer;
  conflicting_index: number | null;
  received_ms: number;
}

export class EquivocationStore {
  private readonly insert: Database.Statement<
    [string, number, string, Buffer, Buffer, number | null, number]
  >;
  private readonly list: Database.Statement<[number, number], Row>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO equivocations (gw, seq, jws, message_hash, conflicting_hash, conflicting_index, received_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_hash) DO NOTHING`,
    );
    this.list = db.prepare('SELECT * FROM equivocations WHERE id > ? ORDER BY id LIMIT ?');
  }

  /** Stores the evidence; false when this exact message was already stored. */
  add(e: Omit<Equivocation, 'id'>): boolean {
    return (
      this.insert.run(
        e.gw,
        e.seq,
        e.jws,
        Buffer.from(e.messageHash),
        Buffer.from(e.conflictingHash),
        e.conflictingIndex,
        e.receivedMs,
      ).changes === 1
    );
  }

  after(id = 0, limit = 1000): Equivocation[] {
    return this.list.all(id, limit).map((r) => ({
      id: r.id,
      gw: r.gw,
      seq: r.seq,
      jws: r.jws,
      messageHash: new Uint8Array(r.message_hash),
      conflictingHash: new Uint8Array(r.conflicting_hash),
      conflictingIndex: r.conflicting_index,
      receivedMs: r.received_ms,
    }));
  }
}
