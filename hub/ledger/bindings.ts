// gateway id -> public key, as the log's binding entries say. The table is an index of those
// entries (append-only like them), so ingest finds a key without replaying the log.
import type Database from 'better-sqlite3';

export interface Binding {
  gw: string;
  publicKey: Uint8Array;
  index: number;
  site: string | null;
  participant: string | null;
}

interface Row {
  gw: string;
  public_key: Buffer;
  idx: number;
  site: string | null;
  participant: string | null;
}

export class Bindings {
  private readonly cache = new Map<string, Binding>();
  private readonly insert: Database.Statement<[string, Buffer, number, string | null, string | null]>;
  private readonly select: Database.Statement<[string], Row>;
  private readonly selectAll: Database.Statement<[], Row>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      'INSERT INTO bindings (gw, public_key, idx, site, participant) VALUES (?, ?, ?, ?, ?)',
    );
    this.select = db.prepare('SELECT * FROM bindings WHERE gw = ?');
    this.selectAll = db.prepare('SELECT * FROM bindings ORDER BY idx');
  }

  private static toBinding(r: Row): Binding {
    return {
      gw: r.gw,
      publicKey: new Uint8Array(r.public_key),
      index: r.idx,
      site: r.site,
      participant: r.participant,
    };
  }

  /** Records a binding; call in the transaction that appends its ledger entry. */
  add(b: Binding): void {
    this.insert.run(b.gw, Buffer.from(b.publicKey), b.index, b.site, b.participant);
    this.cache.set(b.gw, b);
  }

  get(gw: string): Binding | undefined {
    const hit = this.cache.get(gw);
    if (hit) return hit;
    const row = this.select.get(gw);
    if (!row) return undefined;
    const b = Bindings.toBinding(row);
    this.cache.set(gw, b);
    return b;
  }

  /** Forget cached rows (after a rolled-back transaction). */
  clearCache(): void {
    this.cache.clear();
  }

  all(): Binding[] {
    return this.selectAll.all().map(Bindings.toBinding);
  }
}
