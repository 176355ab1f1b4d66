// `wattproof-hub mirror --from URL --dir DIR`: follows a hub over its public HTTP API and keeps a
// full, verified copy of its log. Each new checkpoint must carry the log's signature and be
// consistent (RFC 9162 consistency proof) with the last one this mirror holds; the new entries
// must verify (signature with the key bound at that point, known type, schema) and hash to the
// checkpoint's root. Anything else is an alarm: the hub forked, rewrote or rolled back its log,
// or served entries that are not the ones it signed. On an alarm nothing of that round is kept.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  b64url,
  bytesEqual,
  deriveId,
  idKind,
  type NoteVerifier,
  openCheckpoint,
  parseNoteVerifierKey,
  verifyConsistency,
} from '../../protocol/index.js';
import { GATEWAY_BINDING_TYP, type GatewayBinding, verifyMessage } from '../../protocol/messages/index.js';
import { Ed25519Verifier } from '../crypto/fast-verify.js';
import { Bindings } from '../ledger/bindings.js';
import { Ledger, readLogIdentity, recordLogIdentity } from '../ledger/ledger.js';

export type AlarmKind =
  | 'bad-checkpoint'
  | 'rollback'
  | 'fork'
  | 'bad-entry'
  | 'entries-mismatch'
  | 'log-key-changed';

export class MirrorAlarm extends Error {
  constructor(
    readonly kind: AlarmKind,
    detail: string,
  ) {
    super(detail);
    this.name = 'MirrorAlarm';
  }
}

export interface SyncResult {
  size: number;
  added: number;
  checkpointSize: number;
}

export interface MirrorOptions {
  from: string;
  dir: string;
  /** Pin the log's C2SP verifier key; otherwise taken from the hub on first contact and kept. */
  logKey?: string;
  log?: Logger;
  fetch?: typeof fetch;
  pageSize?: number;
}

interface ApiEntry {
  index: number;
  leaf: string;
  leafHash: string;
}

export class Mirror {
  readonly db: Database.Database;
  readonly ledger: Ledger;
  private readonly bindings: Bindings;
  private readonly verifier = new Ed25519Verifier();
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private vkey: NoteVerifier | undefined;

  constructor(private readonly o: MirrorOptions) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    this.db = new Database(path.join(o.dir, 'ledger.db'));
    this.ledger = new Ledger(this.db);
    this.bindings = new Bindings(this.db);
    this.base = o.from.replace(/\/+$/, '');
    this.fetch = o.fetch ?? globalThis.fetch;
  }

  close(): void {
    this.db.close();
  }

  private async get(pathAndQuery: string, as: 'json' | 'text' = 'json'): Promise<unknown> {
    const res = await this.fetch(`${this.base}${pathAndQuery}`);
    if (!res.ok) throw new Error(`GET ${pathAndQuery}: HTTP ${res.status} ${await res.text()}`);
    return as === 'json' ? res.json() : res.text();
  }

  /** The log key: pinned, or as this copy recorded it, or (first contact) as the hub states it. */
  private async logKey(): Promise<NoteVerifier> {
    if (this.vkey) return this.vkey;
    const stored = readLogIdentity(this.db);
    const keys = (await this.get('/v1/keys')) as { hub: { logOrigin: string; logVerifierKey: string } };
    const stated = parseNoteVerifierKey(keys.hub.logVerifierKey);
    const chosen = this.o.logKey ? parseNoteVerifierKey(this.o.logKey) : stated;
    if (stored && (stored.origin !== chosen.name || !bytesEqual(stored.publicKey, chosen.publicKey))) {
      throw new MirrorAlarm(
        'log-key-changed',
        `this copy follows log "${stored.origin}" with another key than the hub now states`,
      );
    }
    if (!bytesEqual(stated.publicKey, chosen.publicKey)) {
      throw new MirrorAlarm('log-key-changed', 'the hub states another log key than the pinned one');
    }
    recordLogIdentity(this.db, chosen.name, chosen.publicKey);
    this.vkey = chosen;
    return chosen;
  }

  /** One round: fetch the latest checkpoint and the entries up to it, verify, keep. */
  async syncOnce(): Promise<SyncResult> {
    const vkey = await this.logKey();
    const note = (await this.get('/v1/checkpoint', 'text')) as string;
    const opened = openCheckpoint(note, [vkey]);
    if (!opened.ok)
      throw new MirrorAlarm(
        'bad-checkpoint',
        `the hub's latest checkpoint does not verify: ${opened.reason}`,
      );
    const cp = opened.checkpoint;
    const mine = this.ledger.latestCheckpoint();
    if (mine) {
      if (cp.size < mine.size) {
        throw new MirrorAlarm('rollback', `the hub's log shrank from ${mine.size} to ${cp.size} entries`);
      }
      if (cp.size === mine.size) {
        if (!bytesEqual(cp.root, mine.root)) {
          throw new MirrorAlarm('fork', `two different signed roots for size ${cp.size}: the log forked`);
        }
        return { size: this.ledger.size, added: 0, checkpointSize: mine.size };
      }
      const proof = (await this.get(`/v1/proof/consistency?first=${mine.size}&second=${cp.size}`)) as {
        proof: string[];
      };
      const hashes = proof.proof.map((h) => b64url.decode(h));
      if (!verifyConsistency(mine.size, cp.size, mine.root, cp.root, hashes)) {
        throw new MirrorAlarm(
          'fork',
          `checkpoint ${cp.size} is not consistent with checkpoint ${mine.size} held here: the hub rewrote or forked its log`,
        );
      }
    }
    const start = this.ledger.size;
    const fetched: ApiEntry[] = [];
    const page = this.o.pageSize ?? 1000;
    while (start + fetched.length < cp.size) {
      const from = start + fetched.length;
      const to = Math.min(cp.size, from + page);
      const body = (await this.get(`/v1/entries?start=${from}&end=${to}`)) as { entries: ApiEntry[] };
      if (body.entries.length === 0)
        throw new MirrorAlarm('entries-mismatch', `the hub served no entries from ${from}`);
      fetched.push(...body.entries);
    }
    this.ledger.transaction(() => {
      for (const [k, e] of fetched.entries()) this.appendVerified(e, start + k);
      if (!bytesEqual(this.ledger.root(cp.size), cp.root)) {
        throw new MirrorAlarm(
          'entries-mismatch',
          `entries 0..${cp.size - 1} do not hash to the root the hub signed for size ${cp.size}`,
        );
      }
      this.ledger.addSignedCheckpoint(note, [vkey]);
    });
    this.o.log?.info({ event: 'mirror-synced', size: cp.size, added: fetched.length });
    return { size: this.ledger.size, added: fetched.length, checkpointSize: cp.size };
  }

  private appendVerified(e: ApiEntry, index: number): void {
    if (e.index !== index)
      throw new MirrorAlarm('entries-mismatch', `asked for entry ${index}, got ${e.index}`);
    const vkey = this.vkey as NoteVerifier;
    const checked = verifyMessage(e.leaf, {
      publicKeyFor: (kid) => {
        const kind = idKind(kid);
        if (kind === 'gw') return this.bindings.get(kid)?.publicKey;
        if (kind === 'hub') return this.hubKeyFor(kid, vkey);
        return undefined;
      },
      verifySignature: this.verifier.verifyBytes,
    });
    if (!checked.ok)
      throw new MirrorAlarm(
        'bad-entry',
        `entry ${index} does not verify: ${checked.reason}: ${checked.detail}`,
      );
    const p = checked.payload as { gw?: string; seq?: number };
    const chained = idKind(checked.header.kid) === 'gw';
    const [entry] = this.ledger.append([
      {
        jws: e.leaf,
        typ: checked.typ,
        kid: checked.header.kid,
        gw: chained ? (p.gw ?? null) : null,
        seq: chained ? (p.seq ?? null) : null,
        receivedMs: Date.now(),
      },
    ]);
    if (!entry || b64url.encode(entry.leafHash) !== e.leafHash) {
      throw new MirrorAlarm(
        'entries-mismatch',
        `entry ${index}: the hub's leafHash is not the hash of its leaf`,
      );
    }
    if (checked.typ === GATEWAY_BINDING_TYP) {
      const b = checked.payload as GatewayBinding;
      this.bindings.add({
        gw: b.gw,
        publicKey: b64url.decode(b.publicKey),
        index,
        site: b.site,
        participant: b.participant ?? null,
      });
    }
  }

  /** The hub's entry-signing key is the log key; its id is derived from it. */
  private hubKeyFor(kid: string, vkey: NoteVerifier): Uint8Array | undefined {
    return kid === deriveId('hub', vkey.publicKey) ? vkey.publicKey : undefined;
  }
}
