// The deterministic fold: ledger entries in log order → participants, accounts and contracts.
// Anyone holding the log folds it to the same state (replay = state). An entry's signature is
// verified by ingest before it is appended; the fold trusts that, and checks everything else:
// the payload's schema, who signed it, and whether it is legal now. It never throws on bad input:
// an entry that cannot apply is refused with a code and a sentence, recorded in `notices`, and
// leaves the state unchanged (each handler checks everything before it changes anything).
import {
  b64url,
  canonicalJson,
  decodeJwsUnverified,
  idKind,
  messageHashB64,
  sha256,
  utf8,
} from '../../protocol/index.js';
import {
  CONTRACT_TYP,
  type Contract,
  contractIdOf,
  type EnergyContract,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  GATEWAY_BINDING_TYP,
  METER_PROOF_TYP,
  parseContract,
  parseFulfilmentEvent,
  parseGatewayBinding,
  parseMeterProof,
  parseValidatorDecision,
  type Reason,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import {
  applyApplication,
  applyGatewayBinding,
  applyRegistrationDecision,
  emptyRegistry,
  isApproved,
  OK,
  ownerOfGateway,
  type RegistryState,
  refuse,
  type Verdict,
} from '../participants/registry.js';
import {
  type AccountsState,
  accountOf,
  credit,
  emptyAccounts,
  escrow,
  release,
  transfer,
} from './accounts.js';
import { checkFulfilment, type FulfilmentRecord } from './fulfilment-check.js';
import { COLLECTING, type ContractStatus, nextStatus, type TransitionCause } from './lifecycle.js';
import {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  OPERATOR_CREDIT_TYP,
  PARTICIPANT_APPLICATION_TYP,
  parseContractActivation,
  parseContractCancellation,
  parseContractClose,
  parseOperatorCredit,
  parseParticipantApplication,
  parseSettlement,
  SETTLEMENT_TYP,
  type SettlementPayload,
} from './messages.js';
import { type ProofRecord, proofRecordOf } from './proof-rules.js';
import { computeSettlement, type IntervalResult, type SettlementComputation } from './settlement.js';

/** One ledger entry as the fold sees it. */
export interface LogEntry {
  index: number;
  typ: string;
  kid: string;
  /**
   * The payload exactly as JSON.parse read it from the signed bytes (not a schema-parsed copy):
   * the contract id is the hash of those bytes, which canonicalJson(payload) reproduces because
   * verified payloads are canonical JSON.
   */
  payload: unknown;
  /** base64url SHA-256 of the compact JWS. */
  messageHash: string;
}

/** A LogEntry from a compact JWS whose signature ingest (or `verify`) has checked. */
export function logEntryFromJws(index: number, compact: string): LogEntry | undefined {
  const d = decodeJwsUnverified(compact);
  if (d === undefined) return undefined;
  return {
    index,
    typ: d.header.typ,
    kid: d.header.kid,
    payload: d.payload,
    messageHash: messageHashB64(compact),
  };
}

/** Who the fold trusts for hub and validator entries, and the ledger's currency. */
export interface FoldConfig {
  hubKids: readonly string[];
  validatorKids: readonly string[];
  currency: string;
}

export interface ContractRecord {
  id: string;
  contract: Contract;
  status: ContractStatus;
  /** Leaf index of each party's signature. */
  signatures: { seller: number | null; buyer: number | null };
  review: { index: number; outcome: 'approved' | 'refused'; reasons: Reason[] } | null;
  activation: { index: number; at: number } | null;
  /** Deposits currently held in escrow for this contract. */
  escrow: { seller: number; buyer: number };
  cancellations: { seller: number | null; buyer: number | null };
  /** Proofs of the delivery points overlapping the window, in log order, each with its leaf index. */
  proofs: (ProofRecord & { index: number })[];
  fulfilments: FulfilmentRecord[];
  settlement: { index: number; payload: SettlementPayload; intervals: IntervalResult[] } | null;
  closed: { index: number; at: number } | null;
  /** Every status the contract went through and the entry that caused it. */
  history: { index: number; status: ContractStatus }[];
}

export interface Notice {
  index: number;
  typ: string;
  kind: 'refused' | 'note';
  code: string;
  message: string;
  contract?: string;
}

export interface LedgerState {
  /** The number of entries folded: the next entry's index. */
  size: number;
  registry: RegistryState;
  money: AccountsState & {
    /** Σ payments that neither the buyer's deposit nor its balance covered (debts on record). */
    unpaidMinor: number;
  };
  contracts: Record<string, ContractRecord>;
  /** "gw/meter" → ids of contracts collecting that delivery point's proofs (sorted). */
  pointIndex: Record<string, string[]>;
  /** Refusals and notable events, in log order. */
  notices: Notice[];
}

export function emptyState(): LedgerState {
  return {
    size: 0,
    registry: emptyRegistry(),
    money: { ...emptyAccounts(), unpaidMinor: 0 },
    contracts: {},
    pointIndex: {},
    notices: [],
  };
}

export type EntryOutcome =
  | { status: 'applied'; contract?: string }
  | { status: 'ignored' }
  | { status: 'refused'; code: string; message: string; contract?: string };

/** Folds one entry into `state` (mutating it) and says what happened. */
export function applyEntry(state: LedgerState, entry: LogEntry, config: FoldConfig): EntryOutcome {
  if (entry.index !== state.size) {
    const out = refuseOutcome(`out-of-order`, `entry ${entry.index} arrived when ${state.size} was expected`);
    state.notices.push({
      index: entry.index,
      typ: entry.typ,
      kind: 'refused',
      code: out.code,
      message: out.message,
    });
    return out;
  }
  state.size += 1;
  const result = dispatch(state, entry, config);
  if (result.outcome.status === 'refused') {
    const n: Notice = {
      index: entry.index,
      typ: entry.typ,
      kind: 'refused',
      code: result.outcome.code,
      message: result.outcome.message,
    };
    if (result.outcome.contract !== undefined) n.contract = result.outcome.contract;
    state.notices.push(n);
  }
  for (const note of result.notes)
    state.notices.push({ index: entry.index, typ: entry.typ, kind: 'note', ...note });
  return result.outcome;
}

/** Folds a whole log from the empty state. */
export function foldLog(entries: Iterable<LogEntry>, config: FoldConfig): LedgerState {
  const state = emptyState();
  for (const e of entries) applyEntry(state, e, config);
  return state;
}

/** The state as canonical JSON (object keys sorted at every level): equal states, equal text. */
export function stateJson(state: LedgerState): string {
  return canonicalJson(sortKeys(state));
}

/** base64url SHA-256 of stateJson: what two parties compare after folding the same log. */
export function stateHash(state: LedgerState): string {
  return b64url.encode(sha256(stateJson(state)));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------

type NoteInput = Omit<Notice, 'index' | 'typ' | 'kind'>;
interface Dispatched {
  outcome: EntryOutcome;
  notes: NoteInput[];
}

const refuseOutcome = (code: string, message: string, contract?: string) =>
  contract === undefined
    ? ({ status: 'refused', code, message } as const)
    : ({ status: 'refused', code, message, contract } as const);

function fromVerdict(v: Verdict, contract?: string): EntryOutcome {
  if (v.ok) return contract === undefined ? { status: 'applied' } : { status: 'applied', contract };
  return refuseOutcome(v.code, v.message, contract);
}

const done = (outcome: EntryOutcome, notes: NoteInput[] = []): Dispatched => ({ outcome, notes });

function schemaRefusal(typ: string, issues: { path: string; message: string }[]): Dispatched {
  const detail = issues.map((i) => `${i.path === '' ? '(payload)' : i.path}: ${i.message}`).join('; ');
  return done(refuseOutcome('schema', `not a valid ${typ}: ${detail}`));
}

function dispatch(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  switch (e.typ) {
    case PARTICIPANT_APPLICATION_TYP: {
      const p = parseParticipantApplication(e.payload);
      if (!p.ok) return schemaRefusal(e.typ, p.issues);
      return done(fromVerdict(applyApplication(state.registry, e.index, e.kid, p.value)));
    }
    case GATEWAY_BINDING_TYP: {
      if (!config.hubKids.includes(e.kid)) return done(notHub(e));
      const p = parseGatewayBinding(e.payload);
      if (!p.ok) return schemaRefusal(e.typ, p.issues);
      return done(fromVerdict(applyGatewayBinding(state.registry, e.index, p.value)));
    }
    case OPERATOR_CREDIT_TYP:
      return onCredit(state, e, config);
    case VALIDATOR_DECISION_TYP:
      return onDecision(state, e, config);
    case CONTRACT_TYP:
      return onContractSignature(state, e);
    case CONTRACT_ACTIVATION_TYP:
      return onActivation(state, e, config);
    case CONTRACT_CANCELLATION_TYP:
      return onCancellation(state, e);
    case METER_PROOF_TYP:
      return onProof(state, e);
    case FULFILMENT_TYP:
      return onFulfilment(state, e);
    case SETTLEMENT_TYP:
      return onSettlement(state, e, config);
    case CONTRACT_CLOSE_TYP:
      return onClose(state, e, config);
    default:
      return done({ status: 'ignored' });
  }
}

function notHub(e: LogEntry) {
  return refuseOutcome('not-the-hub', `a ${e.typ} is signed by the hub's key; ${e.kid} is not one`);
}

function transition(rec: ContractRecord, cause: TransitionCause, index: number): Verdict {
  const to = nextStatus(rec.status, cause);
  if (to === undefined)
    return refuse('illegal-transition', `a ${cause} cannot apply to a ${rec.status} contract`);
  rec.status = to;
  rec.history.push({ index, status: to });
  return OK;
}

function pointKeys(c: Contract): string[] {
  const keys = [...c.deliveryPoints.seller, ...c.deliveryPoints.buyer].map((p) => `${p.gw}/${p.meter}`);
  return [...new Set(keys)];
}

function indexContract(state: LedgerState, rec: ContractRecord): void {
  for (const k of pointKeys(rec.contract)) {
    const ids = state.pointIndex[k] ?? [];
    if (!ids.includes(rec.id)) {
      ids.push(rec.id);
      ids.sort();
    }
    state.pointIndex[k] = ids;
  }
}

function unindexContract(state: LedgerState, rec: ContractRecord): void {
  for (const k of pointKeys(rec.contract)) {
    const ids = (state.pointIndex[k] ?? []).filter((id) => id !== rec.id);
    if (ids.length === 0) delete state.pointIndex[k];
    else state.pointIndex[k] = ids;
  }
}

function findContract(state: LedgerState, id: string): ContractRecord | undefined {
  return Object.hasOwn(state.contracts, id) ? state.contracts[id] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Money in

function onCredit(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.hubKids.includes(e.kid)) return done(notHub(e));
  const p = parseOperatorCredit(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const c = p.value;
  if (c.currency !== config.currency)
    return done(
      refuseOutcome('currency-mismatch', `credit in ${c.currency}; this ledger keeps ${config.currency}`),
    );
  const who = state.registry.participants[c.account];
  if (who === undefined || (who.status !== 'approved' && who.status !== 'pending'))
    return done(
      refuseOutcome('unknown-account', `${c.account} is not a registered (or applying) participant`),
    );
  return done(fromVerdict(credit(state.money, c.account, c.amountMinor)));
}

// ---------------------------------------------------------------------------------------------
// Validator decisions

function onDecision(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.validatorKids.includes(e.kid))
    return done(refuseOutcome('not-a-validator', `${e.kid} is not a validator key of this ledger`));
  const p = parseValidatorDecision(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const d = p.value;
  if (d.kind === 'registration' || d.kind === 'deregistration')
    return done(fromVerdict(applyRegistrationDecision(state.registry, e.index, d)));
  if (d.kind === 'contract-review') return onReview(state, e.index, d);
  if (d.kind === 'contract-stop')
    return done({ status: 'ignored' }, [
      {
        code: 'stop-not-handled',
        message: 'contract stops are settled by the stop rule of the validator issue; not applied yet',
        contract: d.subject,
      },
    ]);
  return done({ status: 'ignored' });
}

function onReview(state: LedgerState, index: number, d: ValidatorDecision): Dispatched {
  const rec = findContract(state, d.subject);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${d.subject} in the log`));
  if (rec.status !== 'proposed')
    return done(
      refuseOutcome(
        'not-proposed',
        rec.status === 'signing'
          ? 'the contract has only one signature; both parties sign before review'
          : `the contract is ${rec.status}; only a proposed contract is reviewed`,
        rec.id,
      ),
    );
  const approved = d.outcome === 'approved';
  const t = transition(rec, approved ? 'review-approved' : 'review-refused', index);
  if (!t.ok) return done(fromVerdict(t, rec.id));
  rec.review = { index, outcome: approved ? 'approved' : 'refused', reasons: [...d.reasons] };
  if (!approved) unindexContract(state, rec);
  return done({ status: 'applied', contract: rec.id });
}

// ---------------------------------------------------------------------------------------------
// Contracts: signatures, activation, cancellation, closing

function contractIdOfPayload(payload: unknown): string | undefined {
  try {
    return contractIdOf(b64url.encode(utf8(canonicalJson(payload))));
  } catch {
    return undefined;
  }
}

function onContractSignature(state: LedgerState, e: LogEntry): Dispatched {
  const p = parseContract(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const c = p.value;
  const id = contractIdOfPayload(e.payload);
  if (id === undefined) return done(refuseOutcome('schema', 'the contract payload has no JSON form'));
  const side = e.kid === c.seller ? 'seller' : e.kid === c.buyer ? 'buyer' : undefined;
  if (side === undefined)
    return done(refuseOutcome('signer-not-party', `${e.kid} is neither the seller nor the buyer`, id));
  if (state.registry.participants[e.kid] === undefined)
    return done(refuseOutcome('unknown-signer', `${e.kid} has no application in the log`, id));
  const existing = findContract(state, id);
  if (existing === undefined) {
    const rec: ContractRecord = {
      id,
      contract: c,
      status: 'signing',
      signatures: { seller: null, buyer: null },
      review: null,
      activation: null,
      escrow: { seller: 0, buyer: 0 },
      cancellations: { seller: null, buyer: null },
      proofs: [],
      fulfilments: [],
      settlement: null,
      closed: null,
      history: [{ index: e.index, status: 'signing' }],
    };
    rec.signatures[side] = e.index;
    state.contracts[id] = rec;
    indexContract(state, rec);
    return done({ status: 'applied', contract: id });
  }
  if (existing.signatures[side] !== null)
    return done(
      refuseOutcome(
        'duplicate-signature',
        `the ${side} already signed (entry ${existing.signatures[side]})`,
        id,
      ),
    );
  if (existing.status !== 'signing')
    return done(refuseOutcome('illegal-transition', `the contract is ${existing.status}`, id));
  const t = transition(existing, 'signature', e.index);
  if (!t.ok) return done(fromVerdict(t, id));
  existing.signatures[side] = e.index;
  return done({ status: 'applied', contract: id });
}

function onActivation(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.hubKids.includes(e.kid)) return done(notHub(e));
  const p = parseContractActivation(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const a = p.value;
  const rec = findContract(state, a.contract);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${a.contract} in the log`));
  const id = rec.id;
  const c = rec.contract;
  if (rec.status !== 'approved')
    return done(
      refuseOutcome('not-approved', `the contract is ${rec.status}; only an approved one activates`, id),
    );
  if (c.product !== 'energy')
    return done(refuseOutcome('product-not-supported', `${c.product} contracts are not settled yet`, id));
  if (a.at >= c.window.start)
    return done(
      refuseOutcome('window-started', 'activation must come before the delivery window starts', id),
    );
  if (c.currency !== config.currency)
    return done(
      refuseOutcome(
        'currency-mismatch',
        `contract in ${c.currency}; this ledger keeps ${config.currency}`,
        id,
      ),
    );
  for (const side of ['seller', 'buyer'] as const) {
    const party = c[side];
    if (!isApproved(state.registry, party))
      return done(
        refuseOutcome('party-not-registered', `the ${side} ${party} is not a registered participant`, id),
      );
    for (const dp of c.deliveryPoints[side])
      if (ownerOfGateway(state.registry, dp.gw) !== party)
        return done(
          refuseOutcome(
            'delivery-point-not-party',
            `${dp.gw} is not a gateway registered to the ${side} ${party}`,
            id,
          ),
        );
  }
  // Funds: check both before moving either (the seller and the buyer may even be one account).
  const need = new Map<string, number>();
  for (const side of ['seller', 'buyer'] as const)
    need.set(c[side], (need.get(c[side]) ?? 0) + c.deposits[side]);
  for (const [party, amount] of need) {
    const have = accountOf(state.money, party).available;
    if (have < amount)
      return done(
        refuseOutcome(
          'insufficient-funds',
          `${party} has ${have} available; the deposits need ${amount}`,
          id,
        ),
      );
  }
  const t = transition(rec, 'activation', e.index);
  if (!t.ok) return done(fromVerdict(t, id));
  escrow(state.money, c.seller, c.deposits.seller);
  escrow(state.money, c.buyer, c.deposits.buyer);
  rec.escrow = { seller: c.deposits.seller, buyer: c.deposits.buyer };
  rec.activation = { index: e.index, at: a.at };
  return done({ status: 'applied', contract: id });
}

function onCancellation(state: LedgerState, e: LogEntry): Dispatched {
  const p = parseContractCancellation(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const x = p.value;
  const rec = findContract(state, x.contract);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${x.contract} in the log`));
  const id = rec.id;
  if (e.kid !== x.party)
    return done(refuseOutcome('signer-not-party', `signed by ${e.kid} on behalf of ${x.party}`, id));
  const side =
    x.party === rec.contract.seller ? 'seller' : x.party === rec.contract.buyer ? 'buyer' : undefined;
  if (side === undefined)
    return done(refuseOutcome('not-a-party', `${x.party} is not a party to the contract`, id));
  if (nextStatus(rec.status, 'cancellation') === undefined)
    return done(
      refuseOutcome(
        rec.status === 'delivering' ? 'delivery-started' : 'not-cancellable',
        `a ${rec.status} contract cannot be cancelled`,
        id,
      ),
    );
  if (x.at >= rec.contract.window.start)
    return done(
      refuseOutcome('window-started', 'a cancellation must be signed before the window starts', id),
    );
  if (rec.cancellations[side] !== null)
    return done(
      refuseOutcome(
        'duplicate-cancellation',
        `the ${side} already cancelled (entry ${rec.cancellations[side]})`,
        id,
      ),
    );
  const other = side === 'seller' ? 'buyer' : 'seller';
  rec.cancellations[side] = e.index;
  if (rec.cancellations[other] === null)
    return done({ status: 'applied', contract: id }, [
      {
        code: 'cancellation-pending',
        message: `the ${side} cancelled; waiting for the ${other}`,
        contract: id,
      },
    ]);
  transition(rec, 'cancellation', e.index);
  release(state.money, rec.contract.seller, rec.escrow.seller);
  release(state.money, rec.contract.buyer, rec.escrow.buyer);
  rec.escrow = { seller: 0, buyer: 0 };
  unindexContract(state, rec);
  return done({ status: 'applied', contract: id });
}

function onClose(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.hubKids.includes(e.kid)) return done(notHub(e));
  const p = parseContractClose(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const rec = findContract(state, p.value.contract);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${p.value.contract} in the log`));
  if (rec.settlement === null || rec.status !== 'settled')
    return done(
      refuseOutcome('not-settled', `the contract is ${rec.status}; only a settled one closes`, rec.id),
    );
  const opensUntil = rec.settlement.payload.at + rec.contract.disputeWindowMs;
  if (p.value.at < opensUntil)
    return done(
      refuseOutcome('dispute-window-open', `the dispute window is open until ${opensUntil}`, rec.id),
    );
  const t = transition(rec, 'close', e.index);
  if (!t.ok) return done(fromVerdict(t, rec.id));
  rec.closed = { index: e.index, at: p.value.at };
  return done({ status: 'applied', contract: rec.id });
}

// ---------------------------------------------------------------------------------------------
// Proofs and fulfilment events (gateway-signed)

function onProof(state: LedgerState, e: LogEntry): Dispatched {
  if (idKind(e.kid) !== 'gw')
    return done(refuseOutcome('signer-kind', `a meter proof is signed by a gateway, not ${e.kid}`));
  const p = parseMeterProof(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const proof = p.value;
  if (proof.gw !== e.kid)
    return done(refuseOutcome('kid-mismatch', `proof for ${proof.gw} signed by ${e.kid}`));
  const ids = state.pointIndex[`${proof.gw}/${proof.meter.id}`];
  if (ids === undefined) return done({ status: 'ignored' });
  const record = { ...proofRecordOf(e.messageHash, proof), index: e.index };
  let used = false;
  for (const id of ids) {
    const rec = state.contracts[id];
    if (rec === undefined || !COLLECTING.includes(rec.status)) continue;
    const w = rec.contract.window;
    if (!(record.start < w.end && w.start < record.end)) continue;
    rec.proofs.push(record);
    used = true;
    if (rec.status === 'active') transition(rec, 'proof', e.index);
  }
  return done(used ? { status: 'applied' } : { status: 'ignored' });
}

function onFulfilment(state: LedgerState, e: LogEntry): Dispatched {
  const p = parseFulfilmentEvent(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const f: FulfilmentEvent = p.value;
  if (f.gw !== e.kid)
    return done(refuseOutcome('kid-mismatch', `event for ${f.gw} signed by ${e.kid}`, f.contract));
  const rec = findContract(state, f.contract);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${f.contract} in the log`));
  const id = rec.id;
  if (!['active', 'delivering', 'settled', 'closed'].includes(rec.status))
    return done(refuseOutcome('not-active', `the contract is ${rec.status}; it never delivered`, id));
  if (rec.contract.product !== 'energy')
    return done(
      refuseOutcome('product-not-supported', `${rec.contract.product} contracts are not settled yet`, id),
    );
  if (!rec.contract.deliveryPoints[f.role].some((d) => d.gw === f.gw))
    return done(
      refuseOutcome('not-a-delivery-point', `${f.gw} is not a ${f.role} delivery point of the contract`, id),
    );
  const earlier = rec.fulfilments.find((r) => r.gw === f.gw && r.role === f.role);
  if (earlier !== undefined)
    return done(
      refuseOutcome(
        'duplicate-fulfilment',
        `${f.gw} already reported as ${f.role} (entry ${earlier.index}); the first report stands`,
        id,
      ),
    );
  const record = checkFulfilment(
    rec.contract as EnergyContract,
    rec.proofs,
    f,
    e.index,
    rec.status === 'settled' || rec.status === 'closed',
  );
  rec.fulfilments.push(record);
  const notes: NoteInput[] = [];
  if (record.verdict === 'contradicted')
    notes.push({
      code: 'fulfilment-contradicted',
      message: `the event contradicts the proofs in the log: ${record.reasons.map((r) => r.message).join('; ')}`,
      contract: id,
    });
  return done({ status: 'applied', contract: id }, notes);
}

// ---------------------------------------------------------------------------------------------
// Settlement

export type SettlementPlan =
  | { ok: true; payload: SettlementPayload; computation: SettlementComputation }
  | { ok: false; code: string; message: string };

/**
 * What the hub signs to settle a contract at time `at`, computed from the state: the hub calls this
 * when a window has closed (plus its grace for late proofs), signs the payload as a settlement
 * entry and appends it; folding that entry recomputes the same and moves the money.
 */
export function planSettlement(state: LedgerState, contractId: string, at: number): SettlementPlan {
  const rec = findContract(state, contractId);
  if (rec === undefined)
    return { ok: false, code: 'unknown-contract', message: `no contract ${contractId} in the log` };
  if (rec.settlement !== null)
    return { ok: false, code: 'already-settled', message: `settled by entry ${rec.settlement.index}` };
  if (rec.status !== 'active' && rec.status !== 'delivering')
    return {
      ok: false,
      code: 'not-active',
      message: `the contract is ${rec.status}; only an active one settles`,
    };
  const c = rec.contract;
  if (c.product !== 'energy')
    return {
      ok: false,
      code: 'product-not-supported',
      message: `${c.product} contracts are not settled yet`,
    };
  if (at < c.window.end)
    return { ok: false, code: 'window-open', message: `the delivery window is open until ${c.window.end}` };
  const computation = computeSettlement({
    contract: c,
    proofs: rec.proofs,
    escrow: rec.escrow,
    buyerAvailable: accountOf(state.money, c.buyer).available,
  });
  return { ok: true, payload: { contract: rec.id, ...computation.result, at }, computation };
}

function onSettlement(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.hubKids.includes(e.kid)) return done(notHub(e));
  const p = parseSettlement(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const s = p.value;
  const plan = planSettlement(state, s.contract, s.at);
  if (!plan.ok) return done(refuseOutcome(plan.code, plan.message, s.contract));
  const expected = plan.payload;
  const differs = (Object.keys(expected) as (keyof SettlementPayload)[]).filter(
    (k) => canonicalJson(expected[k]) !== canonicalJson(s[k]),
  );
  if (differs.length > 0)
    return done(
      refuseOutcome(
        'settlement-mismatch',
        `the entry does not match the recomputation from the proofs: ${differs
          .map((k) => `${k} is ${canonicalJson(s[k])}, recomputed ${canonicalJson(expected[k])}`)
          .join('; ')}`,
        s.contract,
      ),
    );
  const rec = state.contracts[s.contract] as ContractRecord;
  const c = rec.contract;
  const comp = plan.computation;
  // Every amount below was bounded by the escrow and balances it comes from (computeSettlement).
  transfer(state.money, c.buyer, 'escrow', c.seller, comp.paymentFromEscrow);
  transfer(state.money, c.buyer, 'available', c.seller, comp.paymentFromAvailable);
  transfer(state.money, c.seller, 'escrow', c.buyer, s.penaltyMinor);
  release(state.money, c.seller, s.released.seller);
  release(state.money, c.buyer, s.released.buyer);
  rec.escrow = { seller: 0, buyer: 0 };
  state.money.unpaidMinor = Math.min(Number.MAX_SAFE_INTEGER, state.money.unpaidMinor + s.unpaidMinor);
  transition(rec, 'settlement', e.index);
  rec.settlement = { index: e.index, payload: expected, intervals: comp.intervals };
  unindexContract(state, rec);
  const notes: NoteInput[] = [];
  if (s.unpaidMinor > 0)
    notes.push({
      code: 'payment-short',
      message: `the buyer could not cover ${s.unpaidMinor} of the payment; recorded as unpaid`,
      contract: rec.id,
    });
  return done({ status: 'applied', contract: rec.id }, notes);
}
