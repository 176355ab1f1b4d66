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
  COMPLAINT_TYP,
  CONTRACT_TYP,
  type Contract,
  contractIdOf,
  DEREGISTRATION_REQUEST_TYP,
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  DISPUTE_TYP,
  type EnergyContract,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  GATEWAY_BINDING_TYP,
  METER_PROOF_TYP,
  ORDER_TYP,
  parseComplaint,
  parseContract,
  parseDeregistrationRequest,
  parseDispute,
  parseFulfilmentEvent,
  parseGatewayBinding,
  parseMeterProof,
  parseValidatorDecision,
  type Reason,
  type Refund,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import {
  fillOrders,
  flexibilitySettlement,
  type MarketAuthorisation,
  marketContractOf,
  type OrderRecord,
  recordDispatchCommand,
  recordDispatchResponse,
  recordOrder,
} from '../markets/contract-fold.js';
import { type DispatchRecord, stoppedFlexibilityTerms } from '../markets/flexibility.js';
import { MARKET_MATCH_TYP } from '../markets/messages.js';
import {
  applyApplication,
  applyDeregistrationRequest,
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
import { type NodalCongestionPrices, nodalCongestionPrices } from '../validator/congestion-prices.js';
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
import { COLLECTING, type ContractStatus, nextStatus, OPEN, type TransitionCause } from './lifecycle.js';
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
import {
  computeSettlement,
  congestionAdjustmentsOf,
  type IntervalResult,
  type SettlementComputation,
} from './settlement.js';

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
  /** The validator's review; `queued` while a person decides (the contract stays proposed). */
  review: { index: number; outcome: 'approved' | 'refused' | 'queued'; reasons: Reason[] } | null;
  activation: { index: number; at: number } | null;
  /** Deposits currently held in escrow for this contract. */
  escrow: { seller: number; buyer: number };
  cancellations: { seller: number | null; buyer: number | null };
  /** Proofs of the delivery points overlapping the window, in log order, each with its leaf index. */
  proofs: (ProofRecord & { index: number })[];
  fulfilments: FulfilmentRecord[];
  settlement: { index: number; payload: SettlementPayload; intervals: IntervalResult[] } | null;
  closed: { index: number; at: number } | null;
  /**
   * Why the contract ended early: a validator stop, or a party's deregistration. `endsAt` is the
   * end of the part of the window that still settles (the window's start when none does).
   */
  stop: StopRecord | null;
  /** Message hashes of the disputes opened on the contract, in log order. */
  disputes: string[];
  /** Refunds ruled so far, by direction, minor units (what disputes may still move is bounded). */
  refunds: { sellerToBuyer: number; buyerToSeller: number };
  /** Message hashes of the entries about this contract other than proofs (evidence a dispute may cite). */
  entryHashes: string[];
  /** Every status the contract went through and the entry that caused it. */
  history: { index: number; status: ContractStatus }[];
  /** A market-made contract: its match entry and the two orders that authorise it (docs/markets.md). */
  market?: MarketAuthorisation;
  /** A flexibility contract: the hub's dispatch commands naming it, with the gateways' answers. */
  dispatches?: DispatchRecord[];
}

export interface StopRecord {
  index: number;
  at: number;
  endsAt: number;
  by: 'validator' | 'deregistration';
  /** The deregistered participant, for a stop by deregistration. */
  participant: string | null;
  reasons: Reason[];
}

export interface DisputeRecord {
  /** The dispute entry's message hash (the ruling's subject). */
  hash: string;
  index: number;
  contract: string;
  party: string;
  claim: string;
  claimMinor: number;
  evidence: string[];
  at: number;
  status: 'open' | 'upheld' | 'rejected';
  ruling: {
    index: number;
    reasons: Reason[];
    refund: Refund | null;
    /** Of the refund: what moved, and what the payer's balance could not cover (a recorded debt). */
    paidMinor: number;
    unpaidMinor: number;
  } | null;
}

export interface ComplaintRecord {
  hash: string;
  index: number;
  complainant: string;
  about: string;
  contract: string | null;
  text: string;
  evidence: string[];
  at: number;
  status: 'open' | 'upheld' | 'rejected';
  decision: { index: number; reasons: Reason[] } | null;
}

export interface CongestionRecord {
  index: number;
  subject: string;
  interval: { start: number; end: number } | null;
  outcome: ValidatorDecision['outcome'];
  inputsHash: string;
  adjustments: NonNullable<ValidatorDecision['adjustments']>;
  /** The nodal congestion prices its reasons publish (congestion-prices.ts); null when none. */
  nodalPrices: NodalCongestionPrices | null;
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
  /** Disputes by the message hash of their entry. */
  disputes: Record<string, DisputeRecord>;
  /** Complaints by the message hash of their entry: the validator's queue while `open`. */
  complaints: Record<string, ComplaintRecord>;
  /** The validator's congestion decisions, in log order. */
  congestion: CongestionRecord[];
  /** Market orders by message hash, with what market contracts took of each (docs/markets.md). */
  orders: Record<string, OrderRecord>;
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
    disputes: {},
    complaints: {},
    congestion: [],
    orders: {},
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

type Handler = (state: LedgerState, e: LogEntry, config: FoldConfig) => Dispatched;

/** What the fold does with each typ it reads; every other typ is ignored. */
const HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    PARTICIPANT_APPLICATION_TYP,
    (state, e) => {
      const p = parseParticipantApplication(e.payload);
      if (!p.ok) return schemaRefusal(e.typ, p.issues);
      return done(fromVerdict(applyApplication(state.registry, e.index, e.kid, p.value)));
    },
  ],
  [
    GATEWAY_BINDING_TYP,
    (state, e, config) => {
      if (!config.hubKids.includes(e.kid)) return done(notHub(e));
      const p = parseGatewayBinding(e.payload);
      if (!p.ok) return schemaRefusal(e.typ, p.issues);
      return done(fromVerdict(applyGatewayBinding(state.registry, e.index, p.value)));
    },
  ],
  [OPERATOR_CREDIT_TYP, onCredit],
  [VALIDATOR_DECISION_TYP, onDecision],
  [CONTRACT_TYP, onContractSignature],
  [CONTRACT_ACTIVATION_TYP, onActivation],
  [CONTRACT_CANCELLATION_TYP, onCancellation],
  [METER_PROOF_TYP, onProof],
  [FULFILMENT_TYP, onFulfilment],
  [SETTLEMENT_TYP, onSettlement],
  [CONTRACT_CLOSE_TYP, onClose],
  [
    DEREGISTRATION_REQUEST_TYP,
    (state, e) => {
      const p = parseDeregistrationRequest(e.payload);
      if (!p.ok) return schemaRefusal(e.typ, p.issues);
      return done(fromVerdict(applyDeregistrationRequest(state.registry, e.index, e.kid, p.value)));
    },
  ],
  [DISPUTE_TYP, onDispute],
  [COMPLAINT_TYP, onComplaint],
  [ORDER_TYP, (state, e) => done(fromFold(recordOrder(state.orders, e)))],
  [MARKET_MATCH_TYP, onMarketMatch],
  [
    DISPATCH_COMMAND_TYP,
    (state, e, config) => {
      if (!config.hubKids.includes(e.kid)) return done(notHub(e));
      return done(fromFold(recordDispatchCommand(state, e)));
    },
  ],
  [DISPATCH_RESPONSE_TYP, (state, e) => done(fromFold(recordDispatchResponse(state, e)))],
]);

/**
 * Whether the fold reads entries of this typ. An entry of any other typ is ignored whatever its
 * payload (applyEntry only counts it), so a reader may skip decoding it (the engine's start-up fold).
 */
export function foldsTyp(typ: string): boolean {
  return HANDLERS.has(typ);
}

function dispatch(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  const handler = HANDLERS.get(e.typ);
  return handler === undefined ? done({ status: 'ignored' }) : handler(state, e, config);
}

function fromFold(v: { ok: boolean; contract?: string; code?: string; message?: string }): EntryOutcome {
  if (v.ok)
    return v.contract === undefined ? { status: 'applied' } : { status: 'applied', contract: v.contract };
  return refuseOutcome(v.code ?? 'refused', v.message ?? '', v.contract);
}

/** A market match creates its contract as proposed, authorised by its two orders (hub/markets/contract-fold.ts). */
function onMarketMatch(state: LedgerState, e: LogEntry, config: FoldConfig): Dispatched {
  if (!config.hubKids.includes(e.kid)) return done(notHub(e));
  const r = marketContractOf(state, e);
  if (!r.ok) return done(refuseOutcome(r.code, r.message, r.contract));
  state.contracts[r.record.id] = r.record;
  indexContract(state, r.record);
  fillOrders(state, r.record, r.quantity);
  return done({ status: 'applied', contract: r.record.id });
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
  switch (d.kind) {
    case 'registration':
      return done(fromVerdict(applyRegistrationDecision(state.registry, e.index, d)));
    case 'deregistration':
      return onDeregistration(state, e, d);
    case 'contract-review':
      return onReview(state, e, d);
    case 'contract-stop':
      return onStop(state, e, d);
    case 'dispute':
      return onRuling(state, e, d);
    case 'complaint':
      return onComplaintDecision(state, e, d);
    case 'congestion':
      state.congestion.push({
        index: e.index,
        subject: d.subject,
        interval: d.interval ?? null,
        outcome: d.outcome,
        inputsHash: d.inputsHash,
        adjustments: d.adjustments ?? [],
        nodalPrices: nodalCongestionPrices(d.reasons),
      });
      return done({ status: 'applied' });
  }
}

function onReview(state: LedgerState, e: LogEntry, d: ValidatorDecision): Dispatched {
  const index = e.index;
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
  if (d.outcome === 'queued') {
    if (rec.review?.outcome === 'queued')
      return done(
        refuseOutcome('already-queued', `queued for a person already (entry ${rec.review.index})`, rec.id),
      );
    rec.review = { index, outcome: 'queued', reasons: [...d.reasons] };
    rec.entryHashes.push(e.messageHash);
    return done({ status: 'applied', contract: rec.id });
  }
  const approved = d.outcome === 'approved';
  const t = transition(rec, approved ? 'review-approved' : 'review-refused', index);
  if (!t.ok) return done(fromVerdict(t, rec.id));
  rec.review = { index, outcome: approved ? 'approved' : 'refused', reasons: [...d.reasons] };
  rec.entryHashes.push(e.messageHash);
  if (!approved) unindexContract(state, rec);
  return done({ status: 'applied', contract: rec.id });
}

// ---------------------------------------------------------------------------------------------
// Stop rule and deregistration (docs/validator.md, "Stop rule")

/**
 * The end of the part of the window that still settles when a contract stops at `at`: `at`
 * aligned down to the settlement period (an interval in progress does not count), within the window.
 */
export function stopEndOf(c: Contract, at: number): number {
  const period = c.settlementPeriodMs;
  const aligned = at - (((at % period) + period) % period);
  return Math.min(c.window.end, Math.max(c.window.start, aligned));
}

/**
 * Ends a contract early. Nothing escrowed or nothing left to deliver: the contract is `stopped`
 * and any escrow goes back in full. Otherwise it is `stopping`: it keeps collecting proofs, and the
 * hub's settlement (at or after `endsAt`) settles the intervals before `endsAt` by the usual rule
 * (payment at the contract price, penalty for their shortfall), owes nothing for the remainder, and
 * releases the rest of both deposits (settledTermsOf).
 */
function applyStop(
  state: LedgerState,
  rec: ContractRecord,
  e: LogEntry,
  at: number,
  by: StopRecord['by'],
  participant: string | null,
  reasons: Reason[],
): void {
  const endsAt = rec.status === 'approved' ? rec.contract.window.start : stopEndOf(rec.contract, at);
  const collect = rec.status !== 'approved' && endsAt > rec.contract.window.start;
  transition(rec, collect ? 'stop-collect' : 'stop-release', e.index);
  rec.stop = { index: e.index, at, endsAt, by, participant, reasons: [...reasons] };
  rec.entryHashes.push(e.messageHash);
  if (!collect) {
    release(state.money, rec.contract.seller, rec.escrow.seller);
    release(state.money, rec.contract.buyer, rec.escrow.buyer);
    rec.escrow = { seller: 0, buyer: 0 };
    unindexContract(state, rec);
  }
}

const STOPPABLE: readonly ContractStatus[] = ['approved', 'active', 'delivering'];

function onStop(state: LedgerState, e: LogEntry, d: ValidatorDecision): Dispatched {
  const rec = findContract(state, d.subject);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${d.subject} in the log`));
  if (!STOPPABLE.includes(rec.status))
    return done(
      refuseOutcome(
        'not-stoppable',
        `the contract is ${rec.status}; only an approved, active or delivering contract is stopped`,
        rec.id,
      ),
    );
  applyStop(state, rec, e, d.at, 'validator', null, d.reasons);
  return done({ status: 'applied', contract: rec.id });
}

/**
 * A deregistration decision. When it is approved, the participant's open contracts end in contract
 * id order: those not yet delivering are cancelled (escrow back in full); a delivering one stops at
 * the decision's time by the stop rule.
 */
function onDeregistration(state: LedgerState, e: LogEntry, d: ValidatorDecision): Dispatched {
  const v = applyRegistrationDecision(state.registry, e.index, d);
  if (!v.ok || d.outcome !== 'approved') return done(fromVerdict(v));
  const who = d.subject;
  const notes: NoteInput[] = [];
  const ids = Object.keys(state.contracts).sort();
  for (const id of ids) {
    const rec = state.contracts[id] as ContractRecord;
    if (rec.contract.seller !== who && rec.contract.buyer !== who) continue;
    if (!OPEN.includes(rec.status)) continue;
    if (rec.status === 'delivering') {
      applyStop(state, rec, e, d.at, 'deregistration', who, d.reasons);
      notes.push({
        code: 'contract-stopped',
        message: `${who} left; the contract settles the intervals before ${rec.stop?.endsAt}`,
        contract: id,
      });
      continue;
    }
    transition(rec, 'deregistration', e.index);
    release(state.money, rec.contract.seller, rec.escrow.seller);
    release(state.money, rec.contract.buyer, rec.escrow.buyer);
    rec.escrow = { seller: 0, buyer: 0 };
    rec.stop = {
      index: e.index,
      at: d.at,
      endsAt: rec.contract.window.start,
      by: 'deregistration',
      participant: who,
      reasons: [...d.reasons],
    };
    rec.entryHashes.push(e.messageHash);
    unindexContract(state, rec);
    notes.push({ code: 'contract-cancelled', message: `${who} left; deposits released`, contract: id });
  }
  return done({ status: 'applied' }, notes);
}

// ---------------------------------------------------------------------------------------------
// Disputes and complaints

function onDispute(state: LedgerState, e: LogEntry): Dispatched {
  const p = parseDispute(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const x = p.value;
  const rec = findContract(state, x.contract);
  if (rec === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${x.contract} in the log`));
  const id = rec.id;
  if (e.kid !== x.party)
    return done(refuseOutcome('signer-not-party', `signed by ${e.kid} on behalf of ${x.party}`, id));
  if (x.party !== rec.contract.seller && x.party !== rec.contract.buyer)
    return done(refuseOutcome('not-a-party', `${x.party} is not a party to the contract`, id));
  if (rec.status === 'closed')
    return done(refuseOutcome('contract-closed', 'the contract is closed; its dispute window is over', id));
  const s = rec.settlement;
  if (s === null || (rec.status !== 'settled' && rec.status !== 'disputed'))
    return done(
      refuseOutcome('not-settled', `the contract is ${rec.status}; only a settlement is disputed`, id),
    );
  if (x.at < s.payload.at)
    return done(
      refuseOutcome('before-settlement', `the dispute is dated before the settlement (${s.payload.at})`, id),
    );
  const until = s.payload.at + rec.contract.disputeWindowMs;
  if (x.at > until)
    return done(refuseOutcome('dispute-window-closed', `the dispute window closed at ${until}`, id));
  const open = rec.disputes.find(
    (h) => state.disputes[h]?.party === x.party && state.disputes[h]?.status === 'open',
  );
  if (open !== undefined)
    return done(
      refuseOutcome('dispute-open', `${x.party} has a dispute open on this contract already (${open})`, id),
    );
  if (Object.hasOwn(state.disputes, e.messageHash))
    return done(refuseOutcome('duplicate-dispute', 'this dispute is in the log already', id));
  const known = new Set([...rec.entryHashes, ...rec.proofs.map((q) => q.hash)]);
  const unknown = x.evidence.filter((h) => !known.has(h));
  if (unknown.length > 0)
    return done(
      refuseOutcome(
        'unknown-evidence',
        `evidence ${unknown.join(', ')} is not an entry of this contract in the log`,
        id,
      ),
    );
  const t = transition(rec, 'dispute', e.index);
  if (!t.ok) return done(fromVerdict(t, id));
  state.disputes[e.messageHash] = {
    hash: e.messageHash,
    index: e.index,
    contract: id,
    party: x.party,
    claim: x.claim,
    claimMinor: x.claimMinor,
    evidence: [...x.evidence],
    at: x.at,
    status: 'open',
    ruling: null,
  };
  rec.disputes.push(e.messageHash);
  rec.entryHashes.push(e.messageHash);
  return done({ status: 'applied', contract: id });
}

/** What a refund from `from` may still move: what the settlement moved the other way, less earlier refunds. */
export function refundBound(rec: ContractRecord, from: string): number {
  const s = rec.settlement?.payload;
  if (s === undefined) return 0;
  return from === rec.contract.seller
    ? Math.max(0, s.paymentMinor - rec.refunds.sellerToBuyer)
    : Math.max(0, s.penaltyMinor - rec.refunds.buyerToSeller);
}

function onRuling(state: LedgerState, e: LogEntry, d: ValidatorDecision): Dispatched {
  const dispute = Object.hasOwn(state.disputes, d.subject) ? state.disputes[d.subject] : undefined;
  if (dispute === undefined)
    return done(refuseOutcome('unknown-dispute', `no dispute ${d.subject} in the log`));
  const rec = state.contracts[dispute.contract] as ContractRecord;
  const id = rec.id;
  if (dispute.status !== 'open')
    return done(
      refuseOutcome(
        'dispute-decided',
        `the dispute was ruled on already (entry ${dispute.ruling?.index})`,
        id,
      ),
    );
  const r = d.refund ?? null;
  let paid = 0;
  let unpaid = 0;
  if (r !== null) {
    const { seller, buyer } = rec.contract;
    if (!((r.from === seller && r.to === buyer) || (r.from === buyer && r.to === seller)))
      return done(
        refuseOutcome(
          'refund-parties',
          'a refund moves money between the seller and the buyer of the contract',
          id,
        ),
      );
    const bound = refundBound(rec, r.from);
    if (r.amountMinor > bound)
      return done(
        refuseOutcome(
          'refund-above-bound',
          `a refund from ${r.from === seller ? 'the seller' : 'the buyer'} is at most ${bound} (what the settlement moved the other way, less earlier refunds); got ${r.amountMinor}`,
          id,
        ),
      );
    paid = Math.min(r.amountMinor, accountOf(state.money, r.from).available);
    unpaid = r.amountMinor - paid;
    transfer(state.money, r.from, 'available', r.to, paid);
    state.money.unpaidMinor = Math.min(Number.MAX_SAFE_INTEGER, state.money.unpaidMinor + unpaid);
    if (r.from === seller) rec.refunds.sellerToBuyer += r.amountMinor;
    else rec.refunds.buyerToSeller += r.amountMinor;
  }
  dispute.status = d.outcome === 'upheld' ? 'upheld' : 'rejected';
  dispute.ruling = {
    index: e.index,
    reasons: [...d.reasons],
    refund: r,
    paidMinor: paid,
    unpaidMinor: unpaid,
  };
  rec.entryHashes.push(e.messageHash);
  if (!rec.disputes.some((h) => state.disputes[h]?.status === 'open')) transition(rec, 'ruling', e.index);
  const notes: NoteInput[] = [];
  if (unpaid > 0)
    notes.push({
      code: 'refund-short',
      message: `the payer could not cover ${unpaid} of the refund; recorded as unpaid`,
      contract: id,
    });
  return done({ status: 'applied', contract: id }, notes);
}

function onComplaint(state: LedgerState, e: LogEntry): Dispatched {
  const p = parseComplaint(e.payload);
  if (!p.ok) return schemaRefusal(e.typ, p.issues);
  const x = p.value;
  if (e.kid !== x.complainant)
    return done(refuseOutcome('signer-not-complainant', `signed by ${e.kid} on behalf of ${x.complainant}`));
  if (state.registry.participants[x.complainant] === undefined)
    return done(refuseOutcome('unknown-participant', `${x.complainant} has no application in the log`));
  if (state.registry.participants[x.about] === undefined)
    return done(refuseOutcome('unknown-participant', `${x.about} has no application in the log`));
  if (x.contract !== undefined && findContract(state, x.contract) === undefined)
    return done(refuseOutcome('unknown-contract', `no contract ${x.contract} in the log`));
  if (Object.hasOwn(state.complaints, e.messageHash))
    return done(refuseOutcome('duplicate-complaint', 'this complaint is in the log already'));
  state.complaints[e.messageHash] = {
    hash: e.messageHash,
    index: e.index,
    complainant: x.complainant,
    about: x.about,
    contract: x.contract ?? null,
    text: x.text,
    evidence: [...x.evidence],
    at: x.at,
    status: 'open',
    decision: null,
  };
  return done({ status: 'applied' });
}

function onComplaintDecision(state: LedgerState, e: LogEntry, d: ValidatorDecision): Dispatched {
  const c = Object.hasOwn(state.complaints, d.subject) ? state.complaints[d.subject] : undefined;
  if (c === undefined)
    return done(refuseOutcome('unknown-complaint', `no complaint ${d.subject} in the log`));
  if (c.status !== 'open')
    return done(
      refuseOutcome('complaint-decided', `the complaint was decided already (entry ${c.decision?.index})`),
    );
  c.status = d.outcome === 'upheld' ? 'upheld' : 'rejected';
  c.decision = { index: e.index, reasons: [...d.reasons] };
  return done({ status: 'applied' });
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
      stop: null,
      disputes: [],
      refunds: { sellerToBuyer: 0, buyerToSeller: 0 },
      entryHashes: [e.messageHash],
      history: [{ index: e.index, status: 'signing' }],
    };
    rec.signatures[side] = e.index;
    state.contracts[id] = rec;
    indexContract(state, rec);
    return done({ status: 'applied', contract: id });
  }
  if (existing.market !== undefined)
    return done(refuseOutcome('market-contract', 'a market-made contract is authorised by its orders', id));
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
  existing.entryHashes.push(e.messageHash);
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
  rec.entryHashes.push(e.messageHash);
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
  rec.entryHashes.push(e.messageHash);
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
  if (rec.status === 'disputed')
    return done(
      refuseOutcome('dispute-open', 'a dispute on the contract is open; it closes after the ruling', rec.id),
    );
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
  rec.entryHashes.push(e.messageHash);
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
  if (!['active', 'delivering', 'stopping', 'settled', 'disputed', 'closed'].includes(rec.status))
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
    rec.status === 'settled' || rec.status === 'disputed' || rec.status === 'closed',
  );
  rec.fulfilments.push(record);
  rec.entryHashes.push(e.messageHash);
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
/**
 * The terms a contract settles by: its own, or for a stopped one (status `stopping`) the stop rule:
 * the window cut at `stop.endsAt`, a per-window quantity (or a flexibility contract's availability
 * payment) prorated to that part (rounded down). The
 * intervals before the stop settle as usual, penalty included; nothing is owed for the remainder.
 */
export function settledTermsOf(rec: ContractRecord): Contract {
  const c = rec.contract;
  if (rec.stop === null) return c;
  // Flexibility: the window cut the same way, its availability prorated (hub/markets/flexibility.ts).
  if (c.product === 'flexibility') return stoppedFlexibilityTerms(c, rec.stop.endsAt);
  const window = { start: c.window.start, end: rec.stop.endsAt };
  const quantity =
    c.quantity.per === 'window'
      ? {
          wh: Number(
            (BigInt(c.quantity.wh) * BigInt(window.end - window.start)) /
              BigInt(c.window.end - c.window.start),
          ),
          per: 'window' as const,
        }
      : c.quantity;
  return { ...c, window, quantity };
}

export function planSettlement(state: LedgerState, contractId: string, at: number): SettlementPlan {
  const rec = findContract(state, contractId);
  if (rec === undefined)
    return { ok: false, code: 'unknown-contract', message: `no contract ${contractId} in the log` };
  if (rec.settlement !== null)
    return { ok: false, code: 'already-settled', message: `settled by entry ${rec.settlement.index}` };
  if (rec.status !== 'active' && rec.status !== 'delivering' && rec.status !== 'stopping')
    return {
      ok: false,
      code: 'not-active',
      message: `the contract is ${rec.status}; only an active one settles`,
    };
  const c = settledTermsOf(rec);
  if (at < c.window.end)
    return { ok: false, code: 'window-open', message: `the delivery window is open until ${c.window.end}` };
  const buyerAvailable = accountOf(state.money, c.buyer).available;
  if (c.product === 'flexibility') {
    const computation = flexibilitySettlement(rec, c, buyerAvailable);
    return { ok: true, payload: { contract: rec.id, ...computation.result, at }, computation };
  }
  const computation = computeSettlement({
    contract: c,
    proofs: rec.proofs,
    // A congestion decision's adjustments change what the contract owes in its intervals.
    adjustments: congestionAdjustmentsOf(state.congestion, rec.id, rec.contract as EnergyContract),
    escrow: rec.escrow,
    buyerAvailable,
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
  rec.entryHashes.push(e.messageHash);
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
