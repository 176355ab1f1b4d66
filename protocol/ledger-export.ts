// Pure checks of a ledger export (docs/ledger.md): entries.jsonl, checkpoints.txt and keys.json.
// Recomputes every leaf hash and the tree, checks every checkpoint's root and signature,
// re-verifies every signature against the key its kid had at that point in the log, and follows
// every gateway's chain. Stops at the first thing that does not hold and names it.
import { z } from 'zod';
import { b64url, bytesEqual, utf8 } from './bytes.js';
import { messageHashB64 } from './chain.js';
import { type NoteVerifier, openCheckpoint, parseNoteVerifierKey } from './checkpoint.js';
import { deriveId, idKind, idMatchesKey, isId } from './identity.js';
import { decodeJwsUnverified, verifyJws } from './jws.js';
import { EMPTY_ROOT, leafHash, MerkleAccumulator, verifyConsistency, verifyInclusion } from './merkle.js';
import { anyId, formatIssues, hash32, nonNegativeInt, parseWith, publicKey32 } from './messages/common.js';
import { CONTRACT_TYP, type Contract } from './messages/contract.js';
import { GAP_NOTE_TYP, type GapNote } from './messages/gap-note.js';
import { GATEWAY_BINDING_TYP, type GatewayBinding } from './messages/gateway-binding.js';
import { type ChainFields, MESSAGE_TYPES, verifyMessage } from './messages/index.js';
import { PARTICIPANT_APPLICATION_TYP } from './messages/participant-application.js';

export const KEYS_FORMAT = 'wattproof-ledger-keys/1';

// ---------------------------------------------------------------------------------------------
// File shapes

export const keysFileSchema = z.strictObject({
  format: z.literal(KEYS_FORMAT),
  log: z.strictObject({
    /** The checkpoint origin line. */
    origin: z
      .string()
      .min(1)
      .regex(/^[^\n\r]+$/, 'must be one line'),
    /** The hub's id; its key signs hub entries and checkpoints. */
    hub: z.string().regex(/^hub-[a-z2-7]{16}$/, 'must be a hub id'),
    /** The C2SP note verifier key of the checkpoints: name+keyid+base64(0x01 || key). */
    vkey: z.string().min(1),
  }),
  /** Every public key the log relies on, by id, base64url of the raw 32 bytes. */
  keys: z.record(anyId, publicKey32),
});
export type KeysFile = z.infer<typeof keysFileSchema>;

export const entryLineSchema = z.strictObject({
  index: nonNegativeInt,
  /** The leaf: a compact JWS; the leaf bytes are its ASCII bytes. */
  leaf: z.string().min(1),
  /** Convenience copies of the JWS header's typ and kid (checked against it). */
  typ: z.string().optional(),
  kid: z.string().optional(),
  /** Convenience copy of the leaf hash, base64url (checked). */
  leafHash: hash32.optional(),
});
export type EntryLine = z.infer<typeof entryLineSchema>;

export interface LedgerExportFiles {
  /** entries.jsonl as text. */
  entries: string;
  /** checkpoints.txt as text. */
  checkpoints: string;
  /** keys.json as text. */
  keys: string;
}

/**
 * What verifyLedgerExport reads: as LedgerExportFiles, or with entries.jsonl as its lines one at a
 * time (each without its "\n", or with it), so a log of any size is checked in constant memory.
 */
export type LedgerExportInput = Omit<LedgerExportFiles, 'entries'> & { entries: string | Iterable<string> };

export interface VerifyExportOptions {
  /** Pin the log's checkpoint key (a C2SP vkey) instead of trusting keys.json. */
  logKey?: string;
  /** Accept entries whose typ this verifier does not know (signature checked, content not). */
  allowUnknownTypes?: boolean;
  /** The Ed25519 check (default @noble/ed25519; the CLI passes node:crypto for speed). */
  verifySignature?: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
  /** More keys to trust by id (e.g. the validator's), besides keys.json. */
  extraKeys?: ReadonlyMap<string, Uint8Array>;
  /** Called every `progressEvery` entries with the number checked so far (for long runs). */
  onProgress?: (entriesChecked: number) => void;
  /** Default PROGRESS_EVERY. */
  progressEvery?: number;
}

/** How often verifyLedgerExport reports progress, in entries. */
export const PROGRESS_EVERY = 100_000;

/** The lines of entries.jsonl: split when given whole (a last empty line is no entry). */
function* entryLinesOf(entries: string | Iterable<string>): Generator<string> {
  if (typeof entries === 'string') {
    const lines = entries.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    yield* lines;
    return;
  }
  for (const line of entries) yield line.endsWith('\n') ? line.slice(0, -1) : line;
}

export type FailureWhere = 'keys' | 'entry' | 'checkpoint' | 'log';

export interface LedgerFailure {
  where: FailureWhere;
  /** The entry's leaf index (where = entry), or the checkpoint's ordinal from 0 (where = checkpoint). */
  index?: number;
  /** The line in the file (1-based), when there is one. */
  line?: number;
  reason: string;
  detail: string;
}

export interface LedgerVerifyReport {
  ok: boolean;
  entries: number;
  checkpoints: number;
  gateways: number;
  /** base64url root over all entries. */
  root: string;
  /** The largest checkpoint, when any. */
  latestCheckpoint?: { size: number; root: string };
  /** Entries after the largest checkpoint (not yet covered by a signature of the log). */
  uncheckpointed: number;
  /** Count of entries by typ. */
  types: Record<string, number>;
  warnings: string[];
  failure?: LedgerFailure;
}

// ---------------------------------------------------------------------------------------------
// checkpoints.txt

export interface CheckpointBlock {
  note: string;
  /** 1-based line of its origin in checkpoints.txt. */
  line: number;
}

/**
 * Splits checkpoints.txt into signed notes. Each note is text lines, an empty line, and one or
 * more signature lines ("— "); notes are separated by one empty line.
 */
export function splitCheckpoints(text: string): CheckpointBlock[] | { error: string; line: number } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: CheckpointBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    if (out.length > 0) {
      if (lines[i] !== '') return { error: 'checkpoints are separated by one empty line', line: i + 1 };
      i++;
    }
    const start = i;
    while (i < lines.length && lines[i] !== '') i++;
    if (i === start)
      return { error: 'a checkpoint starts with its origin line, not an empty line', line: i + 1 };
    if (i >= lines.length)
      return { error: 'a checkpoint ends with an empty line and signature lines', line: i + 1 };
    i++; // the empty line between text and signatures
    const sigStart = i;
    while (i < lines.length && (lines[i] as string).startsWith('\u2014 ')) i++;
    if (i === sigStart)
      return { error: 'a checkpoint has at least one signature line ("— name sig")', line: i + 1 };
    out.push({ note: `${lines.slice(start, i).join('\n')}\n`, line: start + 1 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The verifier

class Failure extends Error {
  constructor(readonly failure: LedgerFailure) {
    super(failure.detail);
  }
}

const failure = (f: LedgerFailure): Failure => new Failure(f);

interface GatewayChain {
  key: Uint8Array;
  /** seq → base64url message hash, for every seq in the log. */
  hashes: Map<number, string>;
  /** seq → prev it claimed, to check late links. */
  prevs: Map<number, string | null>;
  /** The next seq expected at the head (highest seq + 1, or past the last gap). */
  next: number;
  /** Seqs a gap note declared missing and that have not arrived. */
  open: Set<number>;
}

interface CheckpointCheck {
  ordinal: number;
  line: number;
  size: number;
  root: Uint8Array;
}

/** Verifies a whole export. Never throws; the report names the first failure. */
export function verifyLedgerExport(
  files: LedgerExportInput,
  opts: VerifyExportOptions = {},
): LedgerVerifyReport {
  const report: LedgerVerifyReport = {
    ok: false,
    entries: 0,
    checkpoints: 0,
    gateways: 0,
    root: b64url.encode(EMPTY_ROOT),
    uncheckpointed: 0,
    types: {},
    warnings: [],
  };
  try {
    run(files, opts, report);
    report.ok = true;
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    report.failure = err.failure;
  }
  return report;
}

function parseKeys(text: string, pinned: string | undefined) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw failure({
      where: 'keys',
      reason: 'keys-json',
      detail: `keys.json is not JSON: ${(err as Error).message}`,
    });
  }
  const parsed = parseWith(keysFileSchema, json);
  if (!parsed.ok)
    throw failure({
      where: 'keys',
      reason: 'keys-json',
      detail: `keys.json: ${formatIssues(parsed.issues)}`,
    });
  const file = parsed.value;
  const keys = new Map<string, Uint8Array>();
  for (const [id, key] of Object.entries(file.keys)) {
    const bytes = b64url.decode(key);
    if (!idMatchesKey(id, bytes))
      throw failure({
        where: 'keys',
        reason: 'key-id-mismatch',
        detail: `keys.json: ${id} is not the id of the key listed for it`,
      });
    keys.set(id, bytes);
  }
  let verifier: NoteVerifier;
  try {
    verifier = parseNoteVerifierKey(pinned ?? file.log.vkey);
  } catch (err) {
    throw failure({
      where: 'keys',
      reason: 'log-key',
      detail: `${pinned === undefined ? 'keys.json log.vkey' : '--log-key'}: ${(err as Error).message}`,
    });
  }
  if (pinned !== undefined && pinned !== file.log.vkey)
    throw failure({
      where: 'keys',
      reason: 'log-key-mismatch',
      detail:
        'keys.json names a different log key than the pinned one: this export is not from the log you trust',
    });
  const hubId = deriveId('hub', verifier.publicKey);
  if (file.log.hub !== hubId)
    throw failure({
      where: 'keys',
      reason: 'log-key-mismatch',
      detail: `keys.json log.hub is ${file.log.hub}; the log key's id is ${hubId}`,
    });
  const listed = keys.get(hubId);
  if (listed !== undefined && !bytesEqual(listed, verifier.publicKey))
    throw failure({
      where: 'keys',
      reason: 'log-key-mismatch',
      detail: `keys.json lists another key for ${hubId}`,
    });
  keys.set(hubId, verifier.publicKey);
  return { file, keys, verifier, hubId };
}

function parseCheckpoints(text: string, verifier: NoteVerifier, origin: string): CheckpointCheck[] {
  const blocks = splitCheckpoints(text);
  if (!Array.isArray(blocks))
    throw failure({
      where: 'checkpoint',
      line: blocks.line,
      reason: 'checkpoint-format',
      detail: blocks.error,
    });
  const out: CheckpointCheck[] = [];
  for (const [ordinal, b] of blocks.entries()) {
    const opened = openCheckpoint(b.note, [verifier]);
    if (!opened.ok)
      throw failure({
        where: 'checkpoint',
        index: ordinal,
        line: b.line,
        reason: 'checkpoint-signature',
        detail: `checkpoint ${ordinal} (line ${b.line}): ${opened.reason}`,
      });
    else {
      const cp = opened.checkpoint;
      if (cp.origin !== origin)
        throw failure({
          where: 'checkpoint',
          index: ordinal,
          line: b.line,
          reason: 'checkpoint-origin',
          detail: `checkpoint ${ordinal} has origin "${cp.origin}", the log's is "${origin}"`,
        });
      const before = out[out.length - 1];
      if (before !== undefined && cp.size < before.size)
        throw failure({
          where: 'checkpoint',
          index: ordinal,
          line: b.line,
          reason: 'checkpoint-order',
          detail: `checkpoint ${ordinal} has size ${cp.size}, below the size ${before.size} before it`,
        });
      out.push({ ordinal, line: b.line, size: cp.size, root: cp.root });
    }
  }
  return out;
}

function run(files: LedgerExportInput, opts: VerifyExportOptions, report: LedgerVerifyReport): void {
  const { file, keys, verifier, hubId } = parseKeys(files.keys, opts.logKey);
  const checkpoints = parseCheckpoints(files.checkpoints, verifier, file.log.origin);
  report.checkpoints = checkpoints.length;

  const chains = new Map<string, GatewayChain>();
  const acc = new MerkleAccumulator();
  let nextCheckpoint = 0;
  let lastGoodSize = 0;

  const checkCheckpointsAt = (size: number) => {
    for (; nextCheckpoint < checkpoints.length; nextCheckpoint++) {
      const cp = checkpoints[nextCheckpoint] as CheckpointCheck;
      if (cp.size !== size) break;
      if (!bytesEqual(cp.root, acc.root()))
        throw failure({
          where: 'checkpoint',
          index: cp.ordinal,
          line: cp.line,
          reason: 'checkpoint-root',
          detail: `checkpoint ${cp.ordinal} (size ${cp.size}) signs a different root than entries 0..${size - 1} give: an entry in ${lastGoodSize}..${size - 1} is not the one the log signed`,
        });
      lastGoodSize = size;
    }
  };
  checkCheckpointsAt(0);

  // A participant's key is bound by its own application in the log (self-signed, the id derived
  // from the key), as a gateway's is by its binding entry; keys.json may list it too.
  const participants = new Map<string, Uint8Array>();
  const keyFor = (kid: string): Uint8Array | undefined => {
    const kind = idKind(kid);
    if (kind === 'gw') return chains.get(kid)?.key;
    if (kind === 'hub') return kid === hubId ? verifier.publicKey : undefined;
    if (kind === 'pt' && participants.has(kid)) return participants.get(kid);
    return keys.get(kid) ?? opts.extraKeys?.get(kid);
  };

  const every = opts.progressEvery ?? PROGRESS_EVERY;
  let i = -1;
  for (const text of entryLinesOf(files.entries)) {
    i++;
    if (i > 0 && i % every === 0) opts.onProgress?.(i);
    const at = { where: 'entry' as const, index: i, line: i + 1 };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw failure({
        ...at,
        reason: 'entry-json',
        detail: `line ${i + 1} is not JSON: ${(err as Error).message}`,
      });
    }
    const parsed = parseWith(entryLineSchema, json);
    if (!parsed.ok)
      throw failure({ ...at, reason: 'entry-fields', detail: `entry ${i}: ${formatIssues(parsed.issues)}` });
    const e = parsed.value;
    if (e.index !== i)
      throw failure({
        ...at,
        reason: 'index',
        detail: `line ${i + 1} says index ${e.index}; entries are in leaf order from 0`,
      });
    const hash = leafHash(utf8(e.leaf));
    if (e.leafHash !== undefined && e.leafHash !== b64url.encode(hash))
      throw failure({
        ...at,
        reason: 'leaf-hash',
        detail: `entry ${i}: leafHash is not SHA-256(0x00 || leaf)`,
      });
    const header = decodeJwsUnverified(e.leaf)?.header;
    if (
      header !== undefined &&
      ((e.typ !== undefined && e.typ !== header.typ) || (e.kid !== undefined && e.kid !== header.kid))
    )
      throw failure({
        ...at,
        reason: 'typ-kid-mismatch',
        detail: `entry ${i}: typ/kid beside the leaf differ from its JWS header`,
      });
    const learnt = participantApplicationKey(e.leaf);
    const entryKeyFor =
      learnt && keyFor(learnt.id) === undefined
        ? (kid: string) => (kid === learnt.id ? learnt.key : keyFor(kid))
        : keyFor;
    checkEntry(e.leaf, i, at, entryKeyFor, opts, chains, hubId, report);
    if (learnt && !participants.has(learnt.id)) participants.set(learnt.id, learnt.key);
    acc.append(hash);
    checkCheckpointsAt(i + 1);
  }
  const count = i + 1;
  report.entries = count;
  report.root = b64url.encode(acc.root());
  report.gateways = chains.size;
  const beyond = checkpoints[nextCheckpoint];
  if (beyond !== undefined)
    throw failure({
      where: 'checkpoint',
      index: beyond.ordinal,
      line: beyond.line,
      reason: 'checkpoint-beyond-entries',
      detail: `checkpoint ${beyond.ordinal} has size ${beyond.size}, but the export has only ${count} entries`,
    });
  for (const id of keys.keys()) {
    if (isId(id, 'gw') && !chains.has(id))
      throw failure({
        where: 'keys',
        reason: 'key-not-bound',
        detail: `keys.json lists ${id}, but no binding entry binds it`,
      });
  }
  const latest = checkpoints[checkpoints.length - 1];
  if (latest !== undefined) report.latestCheckpoint = { size: latest.size, root: b64url.encode(latest.root) };
  report.uncheckpointed = count - (latest?.size ?? 0);
  if (report.uncheckpointed > 0)
    report.warnings.push(
      `${report.uncheckpointed} entries after the latest checkpoint are not yet covered by a log signature`,
    );
  for (const chain of chains.values())
    if (chain.open.size > 0)
      report.warnings.push(`gateway gap still open: seq ${[...chain.open].sort((a, b) => a - b).join(', ')}`);
}

/** The key a participant application carries, when the leaf is one whose id is that key's. */
function participantApplicationKey(leaf: string): { id: string; key: Uint8Array } | undefined {
  const d = decodeJwsUnverified(leaf);
  if (d?.header.typ !== PARTICIPANT_APPLICATION_TYP) return undefined;
  const p = d.payload as { participant?: unknown; publicKey?: unknown };
  if (typeof p.participant !== 'string' || typeof p.publicKey !== 'string') return undefined;
  try {
    const key = b64url.decode(p.publicKey);
    return idMatchesKey(p.participant, key) && p.participant === d.header.kid
      ? { id: p.participant, key }
      : undefined;
  } catch {
    return undefined;
  }
}

function checkEntry(
  leaf: string,
  i: number,
  at: { where: 'entry'; index: number; line: number },
  keyFor: (kid: string) => Uint8Array | undefined,
  opts: VerifyExportOptions,
  chains: Map<string, GatewayChain>,
  hubId: string,
  report: LedgerVerifyReport,
): void {
  const verifyOpts = {
    publicKeyFor: keyFor,
    ...(opts.verifySignature ? { verifySignature: opts.verifySignature } : {}),
  };
  const v = verifyMessage(leaf, verifyOpts);
  if (!v.ok) {
    if (v.reason === 'typ-unknown' && opts.allowUnknownTypes) {
      // verifyMessage checked the signature before looking at the typ.
      const typ = (verifyJws(leaf, verifyOpts) as { header: { typ: string } }).header.typ;
      report.types[typ] = (report.types[typ] ?? 0) + 1;
      report.warnings.push(
        `entry ${i}: typ "${typ}" is unknown to this verifier; only its signature was checked`,
      );
      return;
    }
    const kid = decodeJwsUnverified(leaf)?.header.kid;
    if (v.reason === 'kid-unknown' && kid !== undefined && isId(kid, 'gw'))
      throw failure({
        ...at,
        reason: 'gateway-unbound',
        detail: `entry ${i} is signed by ${kid}, which no earlier binding entry binds`,
      });
    if (v.reason === 'kid-unknown' && kid !== undefined && isId(kid, 'hub'))
      throw failure({
        ...at,
        reason: 'hub-kid',
        detail: `entry ${i} is signed by ${kid}, not by this log's hub (${hubId})`,
      });
    throw failure({ ...at, reason: v.reason, detail: `entry ${i}: ${v.detail}` });
  }
  report.types[v.typ] = (report.types[v.typ] ?? 0) + 1;
  const info = MESSAGE_TYPES[v.typ];
  if (!info.ledger)
    throw failure({
      ...at,
      reason: 'not-a-ledger-type',
      detail: `entry ${i}: a ${v.typ} is never a ledger entry`,
    });
  if (v.typ === GATEWAY_BINDING_TYP) {
    const b = v.payload as GatewayBinding;
    if (chains.has(b.gw))
      throw failure({ ...at, reason: 'duplicate-binding', detail: `entry ${i}: ${b.gw} is already bound` });
    // keys.json cannot list another key for b.gw: ids are derived from keys, and both are checked.
    const key = b64url.decode(b.publicKey);
    chains.set(b.gw, { key, hashes: new Map(), prevs: new Map(), next: 0, open: new Set() });
    return;
  }
  if (v.typ === GAP_NOTE_TYP) {
    const g = v.payload as GapNote;
    const chain = chains.get(g.gw);
    if (chain === undefined)
      throw failure({
        ...at,
        reason: 'gap-note',
        detail: `entry ${i}: gap note for ${g.gw}, which is not bound`,
      });
    if (g.from !== chain.next)
      throw failure({
        ...at,
        reason: 'gap-note',
        detail: `entry ${i}: gap note starts at seq ${g.from}; ${g.gw}'s next seq is ${chain.next}`,
      });
    for (let s = g.from; s <= g.to; s++) chain.open.add(s);
    chain.next = g.to + 1;
    return;
  }
  if (v.typ === CONTRACT_TYP) {
    const c = v.payload as Contract;
    if (v.header.kid !== c.seller && v.header.kid !== c.buyer)
      throw failure({
        ...at,
        reason: 'signer-not-party',
        detail: `entry ${i}: contract signed by ${v.header.kid}, neither seller nor buyer`,
      });
    return;
  }
  if (info.chained)
    checkChain(v.payload as ChainFields, v.hash, i, at, chains.get(v.header.kid) as GatewayChain);
}

function checkChain(
  m: ChainFields,
  hash: string,
  i: number,
  at: { where: 'entry'; index: number; line: number },
  chain: GatewayChain,
): void {
  const { seq, prev } = m;
  const where = `entry ${i} (${m.gw} seq ${seq})`;
  if (chain.hashes.has(seq))
    throw failure({
      ...at,
      reason: 'chain-repeat',
      detail: `${where}: seq ${seq} is already in the log; a chain never repeats a number`,
    });
  if (seq > chain.next)
    throw failure({
      ...at,
      reason: 'chain-gap',
      detail: `${where}: expected seq ${chain.next}, and no gap note covers ${chain.next}..${seq - 1}`,
    });
  if (seq < chain.next && !chain.open.has(seq))
    throw failure({
      ...at,
      reason: 'chain-repeat',
      detail: `${where}: seq ${seq} is behind the chain and not in a noted gap`,
    });
  if (seq === 0 && prev !== null)
    throw failure({ ...at, reason: 'chain-prev', detail: `${where}: seq 0 has prev null` });
  const before = chain.hashes.get(seq - 1);
  if (before !== undefined && prev !== before)
    throw failure({
      ...at,
      reason: 'chain-prev',
      detail: `${where}: prev is not the message hash of seq ${seq - 1}`,
    });
  const after = chain.prevs.get(seq + 1);
  if (chain.hashes.has(seq + 1) && after !== hash)
    throw failure({
      ...at,
      reason: 'chain-prev',
      detail: `${where}: seq ${seq + 1}, already in the log, does not link to it`,
    });
  chain.hashes.set(seq, hash);
  chain.prevs.set(seq, prev);
  chain.open.delete(seq);
  if (seq >= chain.next) chain.next = seq + 1;
}

// ---------------------------------------------------------------------------------------------
// Proofs from the hub's API

export const inclusionProofSchema = z.strictObject({
  leafIndex: nonNegativeInt,
  treeSize: nonNegativeInt,
  leafHash: hash32,
  hashes: z.array(hash32).max(64),
});
export type InclusionProofJson = z.infer<typeof inclusionProofSchema>;

export const consistencyProofSchema = z.strictObject({
  first: nonNegativeInt,
  second: nonNegativeInt,
  hashes: z.array(hash32).max(128),
});
export type ConsistencyProofJson = z.infer<typeof consistencyProofSchema>;

/** The hub API's spelling ({index, size, leafHash, proof}) mapped to the documented one. */
function normaliseInclusion(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || !('proof' in json)) return json;
  const { index, size, leafHash: h, proof, ...rest } = json as Record<string, unknown>;
  return { leafIndex: index, treeSize: size, leafHash: h, hashes: proof, ...rest };
}

function normaliseConsistency(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || !('proof' in json)) return json;
  const { proof, ...rest } = json as Record<string, unknown>;
  return { ...rest, hashes: proof };
}

export type ProofCheck = { ok: true; detail: string } | { ok: false; reason: string; detail: string };

function openPinned(note: string, vkey: string, what: string) {
  let verifier: NoteVerifier;
  try {
    verifier = parseNoteVerifierKey(vkey);
  } catch (err) {
    return { ok: false as const, reason: 'log-key', detail: `log key: ${(err as Error).message}` };
  }
  const opened = openCheckpoint(note, [verifier]);
  if (!opened.ok)
    return { ok: false as const, reason: 'checkpoint-signature', detail: `${what}: ${opened.reason}` };
  return opened;
}

/**
 * Checks an inclusion proof against a signed checkpoint of the same tree size. With `leaf` (the
 * compact JWS), also checks that the proof's leafHash is that leaf's.
 */
export function checkInclusionProof(
  proofJson: unknown,
  checkpointNote: string,
  vkey: string,
  leaf?: string,
): ProofCheck {
  const p = parseWith(inclusionProofSchema, normaliseInclusion(proofJson));
  if (!p.ok) return { ok: false, reason: 'proof-json', detail: `inclusion proof: ${formatIssues(p.issues)}` };
  const cp = openPinned(checkpointNote, vkey, 'checkpoint');
  if (!cp.ok) return cp;
  const { leafIndex, treeSize } = p.value;
  if (cp.checkpoint.size !== treeSize)
    return {
      ok: false,
      reason: 'size-mismatch',
      detail: `the proof is for size ${treeSize}, the checkpoint has ${cp.checkpoint.size}`,
    };
  const h = b64url.decode(p.value.leafHash);
  if (leaf !== undefined && !bytesEqual(leafHash(utf8(leaf)), h))
    return { ok: false, reason: 'leaf-hash', detail: 'leafHash is not SHA-256(0x00 || the leaf given)' };
  if (!verifyInclusion(h, leafIndex, treeSize, p.value.hashes.map(b64url.decode), cp.checkpoint.root))
    return {
      ok: false,
      reason: 'proof-invalid',
      detail: `leaf ${leafIndex} is not shown in the tree of size ${treeSize}`,
    };
  return { ok: true, detail: `leaf ${leafIndex} is in the signed tree of size ${treeSize}` };
}

/** Checks a consistency proof between two signed checkpoints of the same log. */
export function checkConsistencyProof(
  proofJson: unknown,
  oldNote: string,
  newNote: string,
  vkey: string,
): ProofCheck {
  const p = parseWith(consistencyProofSchema, normaliseConsistency(proofJson));
  if (!p.ok)
    return { ok: false, reason: 'proof-json', detail: `consistency proof: ${formatIssues(p.issues)}` };
  const a = openPinned(oldNote, vkey, 'old checkpoint');
  if (!a.ok) return a;
  const b = openPinned(newNote, vkey, 'new checkpoint');
  if (!b.ok) return b;
  if (a.checkpoint.origin !== b.checkpoint.origin)
    return { ok: false, reason: 'origin-mismatch', detail: 'the two checkpoints are of different logs' };
  const { first, second } = p.value;
  if (a.checkpoint.size !== first || b.checkpoint.size !== second)
    return {
      ok: false,
      reason: 'size-mismatch',
      detail: `the proof is for sizes ${first} → ${second}, the checkpoints have ${a.checkpoint.size} → ${b.checkpoint.size}`,
    };
  if (
    !verifyConsistency(first, second, a.checkpoint.root, b.checkpoint.root, p.value.hashes.map(b64url.decode))
  )
    return {
      ok: false,
      reason: 'proof-invalid',
      detail: `the tree of size ${first} is not shown to be a prefix of the tree of size ${second}`,
    };
  return {
    ok: true,
    detail: `the signed tree of size ${first} is a prefix of the signed tree of size ${second}`,
  };
}

/** The message hash and leaf hash of a leaf, for people comparing receipts with an export. */
export function leafSummary(leaf: string): { messageHash: string; leafHash: string } {
  return { messageHash: messageHashB64(leaf), leafHash: b64url.encode(leafHash(utf8(leaf))) };
}

// ---------------------------------------------------------------------------------------------
// Writing an export (what `wattproof-hub export` uses, so writer and verifier agree on bytes)

/** One line of entries.jsonl (without the newline): index, leaf, and the header's typ and kid. */
export function formatEntryLine(index: number, leaf: string): string {
  const header = decodeJwsUnverified(leaf)?.header;
  const line: EntryLine = { index, leaf, ...(header ? { typ: header.typ, kid: header.kid } : {}) };
  return JSON.stringify(line);
}

/** entries.jsonl: one line per leaf, in leaf order, each ending with "\n". */
export function formatEntries(leaves: readonly string[]): string {
  return leaves.map((leaf, i) => `${formatEntryLine(i, leaf)}\n`).join('');
}

/** checkpoints.txt: the signed notes in increasing size, separated by one empty line. */
export function formatCheckpoints(notes: readonly string[]): string {
  return notes.join('\n');
}

/** keys.json, with ids sorted so the same keys always give the same file. */
export function formatKeysFile(log: KeysFile['log'], keys: Readonly<Record<string, Uint8Array>>): string {
  const sorted: Record<string, string> = {};
  for (const id of Object.keys(keys).sort()) sorted[id] = b64url.encode(keys[id] as Uint8Array);
  const file: KeysFile = { format: KEYS_FORMAT, log, keys: sorted };
  return `${JSON.stringify(file, null, 2)}\n`;
}
