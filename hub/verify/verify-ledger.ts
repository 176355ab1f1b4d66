// `wattproof-hub verify <ledger.db>`: checks a hub's database file from the ground up.
// 1. What only the database holds: every row's stored leaf hash, message hash and indexed columns
//    (typ, kid, gw, seq) against the leaf bytes; every stored subtree hash against the tree
//    recomputed from the leaves; every checkpoint row's root against its signed note.
// 2. The log rules, by the protocol's own export verifier (the same code as `wattproof-verify`):
//    every leaf hash, the tree, every checkpoint signature and root, every entry's signature with
//    the key its kid had at that point, and every gateway chain.
// 3. The state: the log is folded again from the first entry (participants, accounts, contracts,
//    settlements, validator decisions), and every entry the hub or the validator signed must follow
//    from the entries before it: a settlement that the meter proofs do not give, an activation
//    without the deposits, a second settlement of one contract, each fails here.
// The first thing that does not hold is named; with an entry index where there is one.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { b64, bytesEqual, decodeJwsUnverified, deriveId } from '../../protocol/index.js';
import {
  type LedgerFailure,
  type LedgerVerifyReport,
  PROGRESS_EVERY,
  verifyLedgerExport,
} from '../../protocol/ledger-export.js';
import { OPERATOR_CREDIT_TYP } from '../../protocol/messages/index.js';
import { foldLog, type LedgerState, type LogEntry, logEntryFromJws, stateHash } from '../contracts/fold.js';
import { Ed25519Verifier } from '../crypto/fast-verify.js';
import { leafHashOf, messageHashOf } from '../crypto/hashes.js';
import { loadValidatorKey, VALIDATOR_KEY_FILE } from '../engine/validator-key.js';
import { ledgerExportInput } from '../export/export.js';
import { prepareDatabaseReadOnly } from '../ledger/schema.js';
import { TreeAccumulator } from '../ledger/tree.js';

export interface LedgerDbReport extends LedgerVerifyReport {
  file: string;
  /** The state folded from the log: its hash and what it holds. */
  state?: { hash: string; participants: number; contracts: number; settled: number; notices: number };
}

interface Row {
  idx: number;
  leaf: string;
  leaf_hash: Buffer;
  message_hash: Buffer;
  typ: string;
  kid: string;
  gw: string | null;
  seq: number | null;
}

type Progress = ((what: string) => void) | undefined;

function fail(where: LedgerFailure['where'], reason: string, detail: string, index?: number): LedgerFailure {
  return { where, reason, detail, ...(index !== undefined ? { index } : {}) };
}

/** Checks what only the database holds; returns the first failure, if any. */
function checkDatabase(db: Database.Database, progress: Progress): LedgerFailure | undefined {
  const node = db.prepare<[number, number], { hash: Buffer }>(
    'SELECT hash FROM nodes WHERE level = ? AND idx = ?',
  );
  // node:crypto's SHA-256 (same bytes as protocol's, pinned by hub/crypto and hub/ledger tests).
  const acc = new TreeAccumulator();
  let expected = 0;
  const rows = db
    .prepare<[], Row>(
      'SELECT idx, leaf, leaf_hash, message_hash, typ, kid, gw, seq FROM entries ORDER BY idx',
    )
    .iterate();
  for (const r of rows) {
    const i = r.idx;
    if (i !== expected) {
      return fail('entry', 'index-gap', `entry ${expected} is missing (the next row is ${i})`, expected);
    }
    expected++;
    if (expected % PROGRESS_EVERY === 0) progress?.(`database: ${expected} entries`);
    const lh = leafHashOf(r.leaf);
    if (!bytesEqual(lh, r.leaf_hash)) {
      return fail(
        'entry',
        'leaf-hash',
        `entry ${i}: its bytes do not hash to the leaf hash stored when it was appended (changed since?)`,
        i,
      );
    }
    if (!bytesEqual(messageHashOf(r.leaf), r.message_hash)) {
      return fail(
        'entry',
        'message-hash',
        `entry ${i}: the stored message hash is not the hash of its bytes`,
        i,
      );
    }
    const decoded = decodeJwsUnverified(r.leaf);
    const p = decoded?.payload as { gw?: unknown; seq?: unknown } | undefined;
    const gwCol = r.gw === null ? null : r.gw;
    if (
      !decoded ||
      decoded.header.typ !== r.typ ||
      decoded.header.kid !== r.kid ||
      (gwCol !== null && (p?.gw !== gwCol || p?.seq !== r.seq))
    ) {
      return fail(
        'entry',
        'columns',
        `entry ${i}: the indexed typ/kid/gw/seq columns differ from the leaf`,
        i,
      );
    }
    for (const sub of acc.append(lh)) {
      if (sub.level === 0) continue;
      const stored = node.get(sub.level, sub.index);
      if (!stored || !bytesEqual(stored.hash, sub.hash)) {
        // Named at the entry that completes the subtree; a changed entry inside it is named by
        // its own leaf hash or signature check, which ranks earlier.
        const first = sub.index * 2 ** sub.level;
        return fail(
          'entry',
          'subtree',
          `the stored tree node over entries ${first}..${i} is not the hash of those entries`,
          i,
        );
      }
    }
  }
  const cps = db
    .prepare<[], { size: number; root: Buffer; note: string }>(
      'SELECT size, root, note FROM checkpoints ORDER BY size',
    )
    .all();
  for (const cp of cps) {
    const lines = cp.note.split('\n');
    if (lines[1] !== String(cp.size) || lines[2] !== b64.encode(cp.root)) {
      return fail(
        'checkpoint',
        'checkpoint-row',
        `the checkpoint row of size ${cp.size} differs from its signed note`,
      );
    }
  }
  return undefined;
}

/** Folds the log again; the first hub- or validator-signed entry the fold refuses is a failure. */
function checkState(
  db: Database.Database,
  progress: Progress,
): { state: LedgerState; failure?: LedgerFailure } {
  const kids = new Map<number, string>();
  const hubKids = new Set<string>();
  const validatorKids = new Set<string>();
  let currency: string | undefined;
  const entries: LogEntry[] = [];
  for (const r of db
    .prepare<[], { idx: number; leaf: string; kid: string; typ: string }>(
      'SELECT idx, leaf, kid, typ FROM entries ORDER BY idx',
    )
    .iterate()) {
    kids.set(r.idx, r.kid);
    if ((r.idx + 1) % PROGRESS_EVERY === 0) progress?.(`state: ${r.idx + 1} entries read`);
    if (r.kid.startsWith('hub-')) hubKids.add(r.kid);
    if (r.kid.startsWith('val-')) validatorKids.add(r.kid);
    const e = logEntryFromJws(r.idx, r.leaf);
    if (!e) continue; // the log pass names an undecodable leaf
    // The ledger has one currency, the one its money entered in.
    if (!currency && r.typ === OPERATOR_CREDIT_TYP) currency = (e.payload as { currency?: string }).currency;
    entries.push(e);
  }
  const state = foldLog(entries, {
    hubKids: [...hubKids],
    validatorKids: [...validatorKids],
    currency: currency ?? 'EUR',
  });
  const bad = state.notices.find((n) => {
    const kid = kids.get(n.index) ?? '';
    return n.kind === 'refused' && (kid.startsWith('hub-') || kid.startsWith('val-'));
  });
  return bad
    ? {
        state,
        failure: fail(
          'entry',
          'state',
          `the ${n2(bad.typ)} signed by ${kids.get(bad.index)} does not follow from the log: ${bad.code}: ${bad.message}`,
          bad.index,
        ),
      }
    : { state };
}

const n2 = (typ: string) => typ.replace(/^wattproof\./, '').replace(/\.v\d+$/, '');

/** Verifies a ledger database file; never throws for a broken ledger (only for an unreadable file). */
export function verifyLedgerFile(
  file: string,
  opts: {
    logKey?: string;
    validatorKeys?: readonly Uint8Array[];
    /** Progress of long runs, one short phrase at a time (every 100,000 entries of each pass). */
    onProgress?: (what: string) => void;
  } = {},
): LedgerDbReport {
  // The validator's decisions are checked with its key: given, or the hub's own beside the ledger.
  const extraKeys = new Map<string, Uint8Array>();
  for (const k of opts.validatorKeys ?? []) extraKeys.set(deriveId('val', k), k);
  const beside = path.join(path.dirname(file), VALIDATOR_KEY_FILE);
  if (opts.validatorKeys === undefined && existsSync(beside)) {
    const k = loadValidatorKey(beside);
    extraKeys.set(k.kid, k.publicKey);
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    prepareDatabaseReadOnly(db);
    return db.transaction(() => {
      const dbFailure = checkDatabase(db, opts.onProgress);
      const report = verifyLedgerExport(ledgerExportInput(db), {
        verifySignature: new Ed25519Verifier().verifyBytes,
        extraKeys,
        ...(opts.onProgress
          ? { onProgress: (n: number) => opts.onProgress?.(`log rules: ${n} entries`) }
          : {}),
        ...(opts.logKey ? { logKey: opts.logKey } : {}),
      });
      const { state, failure: stateFailure } = checkState(db, opts.onProgress);
      const contracts = Object.values(state.contracts);
      const out: LedgerDbReport = {
        ...report,
        file,
        state: {
          hash: stateHash(state),
          participants: Object.keys(state.registry.participants).length,
          contracts: contracts.length,
          settled: contracts.filter((c) => c.settlement !== null).length,
          notices: state.notices.length,
        },
      };
      // Name the earliest failing entry of the three passes.
      const candidates = [dbFailure, report.failure, stateFailure].filter(
        (f): f is LedgerFailure => f !== undefined,
      );
      if (candidates.length > 0) {
        const rank = (f: LedgerFailure) =>
          f.where === 'entry' && f.index !== undefined ? f.index : Number.MAX_SAFE_INTEGER;
        candidates.sort((a, b) => rank(a) - rank(b));
        out.ok = false;
        out.failure = candidates[0];
      }
      return out;
    })();
  } finally {
    db.close();
  }
}
