// What dispatch remembers across restarts, in the outbox's SQLite database (so a response and the
// record that it was sent commit together): the flexibility contracts this gateway sells from, and
// every command answered (by hash and by nonce: a command is answered once, a nonce used once).
import type Database from 'better-sqlite3';
import { type FlexibilityContract, parseContract } from '../../protocol/messages/index.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dispatch_contracts (
  id TEXT PRIMARY KEY,
  contract TEXT NOT NULL,
  window_end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dispatch_answered (
  hash TEXT PRIMARY KEY,
  nonce TEXT,
  outcome TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS dispatch_answered_nonce ON dispatch_answered (nonce) WHERE nonce IS NOT NULL;
`;

export class DispatchStore {
  constructor(readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  addContract(id: string, contract: FlexibilityContract): void {
    this.db
      .prepare('INSERT OR IGNORE INTO dispatch_contracts (id, contract, window_end) VALUES (?, ?, ?)')
      .run(id, JSON.stringify(contract), contract.window.end);
  }

  contract(id: string): FlexibilityContract | undefined {
    const row = this.db
      .prepare<[string], { contract: string }>('SELECT contract FROM dispatch_contracts WHERE id = ?')
      .get(id);
    if (row === undefined) return undefined;
    const p = parseContract(JSON.parse(row.contract));
    return p.ok && p.value.product === 'flexibility' ? p.value : undefined;
  }

  contractCount(): number {
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dispatch_contracts').get()?.n ?? 0;
  }

  /** Forgets contracts whose window ended before `before` (their commands can only be refused). */
  pruneContracts(before: number): void {
    this.db.prepare('DELETE FROM dispatch_contracts WHERE window_end < ?').run(before);
  }

  answered(hash: string): boolean {
    return this.db.prepare('SELECT 1 FROM dispatch_answered WHERE hash = ?').get(hash) !== undefined;
  }

  nonceUsed(nonce: string): boolean {
    return this.db.prepare('SELECT 1 FROM dispatch_answered WHERE nonce = ?').get(nonce) !== undefined;
  }

  /** Call inside the outbox transaction that signs the response. */
  markAnswered(hash: string, nonce: string | null, outcome: string, at: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO dispatch_answered (hash, nonce, outcome, at) VALUES (?, ?, ?, ?)')
      .run(hash, nonce, outcome, at);
  }
}
