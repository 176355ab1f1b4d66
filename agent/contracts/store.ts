// What the contract watcher must remember across restarts, in SQLite (normally the outbox's own
// database, so marking an event signed commits in the same transaction that stores the event):
// the contracts it watches, a summary of this gateway's own proofs (the outbox deletes a proof
// once receipted, but a window may span many receipts), and which events it has signed.
import type Database from 'better-sqlite3';
import { decodeJwsUnverified, messageHashB64 } from '../../protocol/index.js';
import {
  type EnergyContract,
  METER_PROOF_TYP,
  type MeterProof,
  type MeterProofFlag,
  parseContract,
  parseMeterProof,
} from '../../protocol/messages/index.js';
import { proofRecordOf } from './proof-rules.js';
import type { OwnProof, Role, WatchedContract } from './watcher-core.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS watched_contracts (
  id TEXT PRIMARY KEY,
  contract TEXT NOT NULL,
  window_end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS contract_proofs (
  hash TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  gw TEXT NOT NULL,
  meter TEXT NOT NULL,
  energy TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  import_wh INTEGER,
  export_wh INTEGER,
  flags TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contract_proofs_by_time ON contract_proofs (meter, start_ms);
CREATE TABLE IF NOT EXISTS signed_fulfilments (
  contract TEXT NOT NULL,
  role TEXT NOT NULL,
  seq INTEGER NOT NULL,
  signed_at INTEGER NOT NULL,
  PRIMARY KEY (contract, role)
);
`;

interface ProofRow {
  hash: string;
  seq: number;
  gw: string;
  meter: string;
  energy: string;
  start_ms: number;
  end_ms: number;
  import_wh: number | null;
  export_wh: number | null;
  flags: string;
}

export class ContractWatchStore {
  constructor(readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  /** Starts watching a contract (idempotent: the id is the hash of the contract). */
  addContract(w: WatchedContract): void {
    this.db
      .prepare('INSERT OR IGNORE INTO watched_contracts (id, contract, window_end) VALUES (?, ?, ?)')
      .run(w.id, JSON.stringify(w.contract), w.contract.window.end);
  }

  removeContract(id: string): void {
    this.db.prepare('DELETE FROM watched_contracts WHERE id = ?').run(id);
  }

  contracts(): WatchedContract[] {
    const rows = this.db
      .prepare<[], { id: string; contract: string }>('SELECT id, contract FROM watched_contracts ORDER BY id')
      .all();
    const out: WatchedContract[] = [];
    for (const r of rows) {
      const parsed = parseContract(JSON.parse(r.contract));
      if (parsed.ok && parsed.value.product === 'energy')
        out.push({ id: r.id, contract: parsed.value as EnergyContract });
    }
    return out;
  }

  /** Remembers one of this gateway's proofs. Call right after the outbox stored it. */
  recordProof(hash: string, proof: MeterProof): void {
    const r = proofRecordOf(hash, proof);
    this.db
      .prepare(
        `INSERT OR IGNORE INTO contract_proofs
         (hash, seq, gw, meter, energy, start_ms, end_ms, import_wh, export_wh, flags)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        hash,
        proof.seq,
        r.gw,
        r.meter,
        r.energy,
        r.start,
        r.end,
        r.importWh,
        r.exportWh,
        JSON.stringify(r.flags),
      );
  }

  /**
   * Records every proof among outbox rows (compact JWSs) that is not recorded yet: run at start,
   * so a crash between storing a proof in the outbox and recording it here loses nothing (a proof
   * cannot have been receipted, and so deleted, before it was sent).
   */
  recordFromOutbox(rows: readonly { jws: string }[]): number {
    let added = 0;
    for (const row of rows) {
      const d = decodeJwsUnverified(row.jws);
      if (d === undefined || d.header.typ !== METER_PROOF_TYP) continue;
      const parsed = parseMeterProof(d.payload);
      if (!parsed.ok) continue;
      const hash = messageHashB64(row.jws);
      const before = this.db.prepare('SELECT 1 FROM contract_proofs WHERE hash = ?').get(hash);
      if (before === undefined) {
        this.recordProof(hash, parsed.value);
        added++;
      }
    }
    return added;
  }

  /** This gateway's recorded proofs of the given meters overlapping [start, end). */
  proofsIn(meters: readonly string[], window: { start: number; end: number }): OwnProof[] {
    const stmt = this.db.prepare<[string, number, number], ProofRow>(
      'SELECT * FROM contract_proofs WHERE meter = ? AND start_ms < ? AND end_ms > ? ORDER BY seq',
    );
    const out: OwnProof[] = [];
    for (const m of new Set(meters))
      for (const r of stmt.all(m, window.end, window.start))
        out.push({
          hash: r.hash,
          seq: r.seq,
          gw: r.gw,
          meter: r.meter,
          energy: r.energy as OwnProof['energy'],
          start: r.start_ms,
          end: r.end_ms,
          importWh: r.import_wh,
          exportWh: r.export_wh,
          flags: JSON.parse(r.flags) as MeterProofFlag[],
        });
    return out.sort((a, b) => a.seq - b.seq);
  }

  hasSigned(contractId: string, role: Role): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM signed_fulfilments WHERE contract = ? AND role = ?')
        .get(contractId, role) !== undefined
    );
  }

  /** Call inside the outbox transaction that stores the event (appendSigned's alsoWrite). */
  markSigned(contractId: string, role: Role, seq: number, signedAt: number): void {
    this.db
      .prepare('INSERT INTO signed_fulfilments (contract, role, seq, signed_at) VALUES (?, ?, ?, ?)')
      .run(contractId, role, seq, signedAt);
  }

  /** Forgets proofs that ended before `t` and contracts whose window ended before `t`. */
  prune(t: number): void {
    this.db.prepare('DELETE FROM contract_proofs WHERE end_ms < ?').run(t);
    this.db.prepare('DELETE FROM watched_contracts WHERE window_end < ?').run(t);
  }
}
