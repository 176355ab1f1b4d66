// The engine runs contracts, validator decisions and markets on the live ledger. It keeps the
// deterministic fold of the whole log (hub/contracts foldLog, and the market's part), takes
// participant-signed entries and operator credits (verified here, appended with the hub's single
// writer, folded at once so the answer says what the fold made of them), asks the validator for
// the decisions the state waits for, activates approved and funded contracts and sends them to
// their gateways, settles each contract once its window and grace have passed, closes it after its
// dispute window, and clears the market at gate closure with prices published.
//
// Every action is computed from the folded state and appended as a signed entry; nothing is
// decided outside the log, so re-folding the log reproduces the engine's state exactly. Work runs
// on tick(): after new entries (onAppended) and on a timer, on the injected clock.
import type { Logger } from 'pino';
import { b64url, decodeJwsUnverified, messageHashB64, signJws } from '../../protocol/index.js';
import {
  COMPLAINT_TYP,
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  CONTRACT_TYP,
  DEREGISTRATION_REQUEST_TYP,
  DISPUTE_TYP,
  type EnergyType,
  OPERATOR_CREDIT_TYP,
  ORDER_TYP,
  PARTICIPANT_APPLICATION_TYP,
  PRICE_TYP,
  type PricePublication,
  SETTLEMENT_TYP,
  type SignedContract,
  signedContractFromCompacts,
  signMessage,
  VALIDATOR_DECISION_TYP,
  verifyMessage,
  verifySignedContract,
} from '../../protocol/messages/index.js';
import { topics } from '../../protocol/topics.js';
import {
  applyEntry,
  type CongestionRecord,
  type ContractRecord,
  type EntryOutcome,
  emptyState,
  type FoldConfig,
  foldsTyp,
  type LedgerState,
  type LogEntry,
  logEntryFromJws,
  planSettlement,
  settledTermsOf,
} from '../contracts/fold.js';
import type { HubKey } from '../keys.js';
import type { Entry, Leaf, Ledger } from '../ledger/ledger.js';
import { type BookKey, bookKeyOf, bookName } from '../markets/book.js';
import {
  applyMarketEntry,
  emptyMarketState,
  MARKET_TYPS,
  type MarketFoldConfig,
  type MarketFoldState,
} from '../markets/fold.js';
import { AUCTION_RESULT_TYP, MARKET_MATCH_TYP } from '../markets/messages.js';
import { planAuction, planContinuous } from '../markets/plan.js';
import { intervalPrices, type PricedContract, pricePublication } from '../markets/prices.js';
import { gateClosureOf, type MarketRules } from '../markets/rules.js';
import { ownerOfGateway } from '../participants/registry.js';
import { contractMessageOf, DELIVERED_STATUSES, gatewaysOf } from './contract-delivery.js';
import type { HubDispatchPort } from './dispatch.js';
import { LeafReader, SKIPPED } from './leaf-reader.js';
import {
  type PriceHistoryPage,
  type PriceHistoryQuery,
  PriceIndex,
  priceHistoryPage,
  pricePublicationOf,
} from './price-history.js';
import type { Reviewer } from './reviewer.js';
import type { Rulings } from './rulings.js';

export interface EngineConfig {
  /** The ledger's one currency (FoldConfig.currency). */
  currency: string;
  /** How long after a window's end the engine waits for late proofs before settling, ms. */
  settlementGraceMs: number;
  /** Validator kids the fold trusts besides the reviewer's own (keys retired or held elsewhere). */
  validatorKids?: readonly string[];
  /** Market rules; absent = no market (orders are refused). */
  market?: MarketRules;
  /** How often tick() runs on its own, real ms (0 = only when called). Default 1000. */
  tickMs?: number;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

export interface EngineDeps {
  ledger: Ledger;
  hubKey: HubKey;
  /** The validator (service or simple rule set); absent = decisions come from elsewhere. */
  reviewer?: Reviewer;
  config: EngineConfig;
  /** The time the engine acts at (UTC ms). */
  clock: () => number;
  publish: (topic: string, payload: string, opts: PublishOptions) => void;
  log: Logger;
  /** Called after the engine appended (the checkpointer hooks in here). */
  afterAppend?: () => void;
  /** The validator's rulings on a person's word (disputes, complaints); absent = none here. */
  rulings?: Rulings;
  /** Congestion decisions per interval (congestion-step.ts); absent = none. */
  congestion?: {
    readonly kid: string;
    /** Each bus of the grid model → its region: whose nodal prices a region's publication carries. */
    readonly busRegions: Readonly<Record<string, string>>;
    next(state: LedgerState, now: number): { compact: string }[];
  };
}

export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** What the engine answers for an entry it was given. */
export interface EngineReceipt {
  /** appended now, or in the log already (the same bytes were sent before). */
  status: 'appended' | 'duplicate';
  index: number;
  messageHash: string;
  typ: string;
  /** What the fold made of it (appended now only): applied, ignored, or refused with code. */
  outcome?: EntryOutcome;
}

const ENGINE_TYPS_PT = [
  PARTICIPANT_APPLICATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  ORDER_TYP,
  DISPUTE_TYP,
  COMPLAINT_TYP,
  DEREGISTRATION_REQUEST_TYP,
] as const;

export class Engine {
  private state: LedgerState = emptyState();
  private market: MarketFoldState = emptyMarketState();
  readonly foldConfig: FoldConfig;
  private readonly marketConfig: MarketFoldConfig | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** State sizes at the last review and activation passes that found nothing more to do. */
  private reviewedAt = -1;
  private activatedAt = -1;
  private tickAgain = false;
  private scheduled = false;
  private stopped = true;
  /** Set by stop(): nothing runs after it, not even a tick already scheduled. */
  private closed = false;
  /** Contracts whose settlement plan failed for a reason time will not change (logged once). */
  private readonly unsettleable = new Set<string>();
  /** Contracts already sent to their gateways by this process. */
  private readonly sent = new Set<string>();
  /** The latest birth (status time) each gateway's contracts were re-sent for. */
  private readonly births = new Map<string, number>();
  /** Price publications in the log: "region/energy" → intervals JSON (to publish only changes). */
  private readonly published = new Map<string, string>();
  /** The latest price publication per "region/energy", with its leaf. */
  private readonly prices = new Map<string, PricePublication & { index: number; jws: string }>();
  /** Every price publication folded so far, by ledger index (GET /v1/prices/history). */
  private readonly priceIndex = new PriceIndex();
  /**
   * Reads leaves for the fold (leaf-reader.ts: what logEntryFromJws reads, faster, and entries of
   * a typ nothing here reads skipped): the fold of the contracts, the market's, and prices.
   */
  private readonly leaves = new LeafReader(
    (typ) => foldsTyp(typ) || MARKET_TYPS.includes(typ) || typ === PRICE_TYP,
  );
  readonly counters = { appended: 0, refusedByFold: 0, rejected: 0, settlements: 0, activations: 0 };

  constructor(private readonly d: EngineDeps) {
    const validatorKids = [...(d.config.validatorKids ?? [])];
    if (d.reviewer && !validatorKids.includes(d.reviewer.kid)) validatorKids.push(d.reviewer.kid);
    if (d.congestion && !validatorKids.includes(d.congestion.kid)) validatorKids.push(d.congestion.kid);
    this.foldConfig = { hubKids: [d.hubKey.hubId], validatorKids, currency: d.config.currency };
    this.marketConfig = d.config.market ? { rules: d.config.market, hubKids: [d.hubKey.hubId] } : undefined;
  }

  /** The folded state (read-only for callers). */
  get ledgerState(): LedgerState {
    return this.state;
  }

  /** What hub/engine/dispatch.ts needs: hub-signed appends through the single writer, and the rest. */
  dispatchPort(): HubDispatchPort {
    return {
      clock: this.d.clock,
      publish: this.d.publish,
      state: () => this.state,
      log: this.d.log,
      appendHubSigned: (build) => {
        const [r] = this.appendEntries(() => {
          const b = build(this.state);
          return b === null ? [] : [this.signHub(b.typ, b.payload)];
        });
        if (r === undefined) return undefined;
        this.onAppended();
        return {
          index: r.entry.index,
          messageHash: messageHashB64(r.entry.jws),
          jws: r.entry.jws,
          outcome: r.outcome,
        };
      },
    };
  }

  /** The latest price publication of each region and energy type. */
  latestPrices(): (PricePublication & { index: number; jws: string })[] {
    return [...this.prices.values()].sort((a, b) => a.index - b.index);
  }

  /**
   * One page of a region's and energy's price publications in log order, as far as the fold has
   * gone: from the index the fold keeps, reading only the leaves on the page.
   */
  priceHistory(q: PriceHistoryQuery): PriceHistoryPage {
    return priceHistoryPage(this.priceIndex, (i) => this.entryJws(i), q);
  }

  get marketState(): MarketFoldState {
    return this.market;
  }

  /** Folds the whole ledger, re-sends live contracts to their gateways and starts the timer. */
  start(): void {
    this.stopped = false;
    this.closed = false;
    this.catchUp();
    for (const rec of Object.values(this.state.contracts))
      if (rec.status === 'active' || rec.status === 'delivering') this.sendContract(rec);
    this.d.log.info(
      { event: 'engine-started', size: this.state.size, contracts: Object.keys(this.state.contracts).length },
      'engine folded the ledger',
    );
    const every = this.d.config.tickMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Ingest (or anything else that appended) calls this after its commit: the engine folds the new
   * entries and runs its work soon after (not inside the caller's stack).
   */
  onAppended(_entries?: readonly Entry[]): void {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
    });
  }

  /** Folds entries appended since the last call; returns how many. */
  catchUp(): number {
    const { ledger } = this.d;
    let n = 0;
    while (this.state.size < ledger.size) {
      // The lean read (index, leaf, message hash, typ), a page at a time (MAX_LEAVES), so no
      // statement stays open on the connection while the fold runs.
      const batch = ledger.leaves(this.state.size, ledger.size);
      if (batch.length === 0) break;
      for (const e of batch) {
        this.foldOne(e);
        n++;
      }
    }
    return n;
  }

  private foldOne(e: Leaf): EntryOutcome {
    const entry = e.index === this.state.size ? this.leaves.read(e) : logEntryFromJws(e.index, e.jws);
    if (entry === undefined || entry === SKIPPED) {
      // An undecodable leaf cannot be in the log (ingest verified it); skip it like the follower.
      // A leaf of a typ nothing here reads would only be counted by applyEntry: the same.
      this.state.size = e.index + 1;
      return { status: 'ignored' };
    }
    const before = this.contractStatus(entry);
    const outcome = applyEntry(this.state, entry, this.foldConfig);
    if (this.marketConfig) applyMarketEntry(this.market, entry, this.marketConfig);
    if (outcome.status === 'refused')
      this.d.log.warn(
        { event: 'fold-refused', index: e.index, typ: e.typ, code: outcome.code, contract: outcome.contract },
        outcome.message,
      );
    if (entry.typ === PRICE_TYP && this.foldConfig.hubKids.includes(entry.kid)) {
      const pub = entry.payload as PricePublication;
      const k = `${pub.region}/${pub.energy}`;
      this.published.set(k, JSON.stringify(pub.intervals));
      this.prices.set(k, { index: e.index, jws: e.jws, ...pub });
    }
    // The history's index, built here so it is complete as far as the fold is and no one rescans.
    const priced = pricePublicationOf(entry.typ, entry.kid, entry.payload, this.foldConfig.hubKids);
    if (priced !== undefined) this.priceIndex.record(e.index, priced);
    // A contract that just became active goes to its gateways (whoever appended the activation).
    if (entry.typ === CONTRACT_ACTIVATION_TYP && outcome.status === 'applied' && outcome.contract) {
      const rec = this.state.contracts[outcome.contract];
      if (rec && before !== 'active' && !this.stopped) this.sendContract(rec);
    }
    return outcome;
  }

  private contractStatus(entry: LogEntry): string | undefined {
    const id = (entry.payload as { contract?: unknown } | null)?.contract;
    return typeof id === 'string' ? this.state.contracts[id]?.status : undefined;
  }

  /**
   * Appends entries with the hub's single writer: the fold is brought up to date and `check` runs
   * inside the ledger's transaction, so nothing lands between what was checked and the append.
   * Returns each entry's fold outcome.
   */
  private appendEntries(
    build: () => { jws: string; typ: string; kid: string }[],
  ): { entry: Entry; outcome: EntryOutcome }[] {
    const now = this.d.clock();
    const entries = this.d.ledger.transaction(() => {
      this.catchUp();
      const inputs = build();
      if (inputs.length === 0) return [];
      return this.d.ledger.append(inputs.map((i) => ({ ...i, gw: null, seq: null, receivedMs: now })));
    });
    const out: { entry: Entry; outcome: EntryOutcome }[] = [];
    // Entries appended by others before ours were folded inside the transaction; fold ours now.
    for (const entry of entries) {
      if (entry.index !== this.state.size) this.catchUp();
      const outcome = entry.index === this.state.size ? this.foldOne(entry) : { status: 'ignored' as const };
      this.counters.appended++;
      if (outcome.status === 'refused') this.counters.refusedByFold++;
      out.push({ entry, outcome });
    }
    if (entries.length > 0) this.d.afterAppend?.();
    return out;
  }

  private signHub(
    typ: Parameters<typeof signMessage>[0],
    payload: unknown,
  ): { jws: string; typ: string; kid: string } {
    const { hubId, secretKey } = this.d.hubKey;
    return { jws: signMessage(typ, hubId, payload as never, secretKey), typ, kid: hubId };
  }

  private receiptOf(entry: Entry, outcome: EntryOutcome): EngineReceipt {
    return {
      status: 'appended',
      index: entry.index,
      messageHash: messageHashB64(entry.jws),
      typ: entry.typ,
      outcome,
    };
  }

  private duplicate(jws: string): EngineReceipt | undefined {
    const e = this.d.ledger.entryByMessageHash(decodeHash(jws));
    return e
      ? { status: 'duplicate', index: e.index, messageHash: messageHashB64(e.jws), typ: e.typ }
      : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Participant-signed entries

  /**
   * A participant application, cancellation or order (compact JWS). An application is verified
   * with the key it carries (self-signed); the others with the participant's key from the registry.
   */
  submitSigned(compact: unknown, expectedTyp?: (typeof ENGINE_TYPS_PT)[number]): EngineReceipt {
    if (typeof compact !== 'string' || compact.length > 64 * 1024)
      throw new EngineError(400, 'malformed', 'the entry must be a compact JWS string (at most 64 KiB)');
    const decoded = decodeJwsUnverified(compact);
    if (decoded === undefined)
      throw new EngineError(400, 'malformed', 'not a compact JWS (header.payload.signature, base64url)');
    const typ = decoded.header.typ;
    if (!(ENGINE_TYPS_PT as readonly string[]).includes(typ) || (expectedTyp && typ !== expectedTyp))
      throw new EngineError(
        400,
        'typ-mismatch',
        `this endpoint takes a ${expectedTyp ?? ENGINE_TYPS_PT.join(' or ')}, not "${typ}"`,
      );
    if (typ === ORDER_TYP && this.marketConfig === undefined)
      throw new EngineError(409, 'no-market', 'this hub runs no market (engine.market is not configured)');
    const dup = this.duplicate(compact);
    if (dup) return dup;
    const kid = decoded.header.kid;
    const payload = decoded.payload as Record<string, unknown> | null;
    const publicKeyFor = (k: string): Uint8Array | undefined => {
      if (k !== kid) return undefined;
      if (typ === PARTICIPANT_APPLICATION_TYP) {
        // Self-signed: the key in the application, which must be the one the id derives from
        // (the schema checks that).
        return payload?.participant === kid && typeof payload.publicKey === 'string'
          ? safeDecode(payload.publicKey)
          : undefined;
      }
      const pk = this.state.registry.participants[k]?.publicKey;
      return pk === undefined ? undefined : safeDecode(pk);
    };
    const v = verifyMessage(compact, { typ, publicKeyFor });
    if (!v.ok) {
      this.counters.rejected++;
      const unknown = v.reason === 'kid-unknown' && typ !== PARTICIPANT_APPLICATION_TYP;
      this.d.log.warn({ event: 'entry-rejected', typ, kid, reason: v.reason }, v.detail);
      throw new EngineError(
        unknown ? 403 : v.reason === 'schema' ? 422 : 400,
        v.reason,
        unknown
          ? `${kid} is not a participant with an application in the log (apply first: POST /v1/participants)`
          : typ === PARTICIPANT_APPLICATION_TYP && v.reason === 'kid-unknown'
            ? 'an application is signed by the key it carries: kid must equal participant, and publicKey be that key (base64url)'
            : v.detail,
      );
    }
    if (typ === ORDER_TYP && this.marketConfig) {
      const createdAt = (v.payload as { createdAt: number }).createdAt;
      const skew = Math.abs(createdAt - this.d.clock());
      if (skew > this.marketConfig.rules.maxClockSkewMs)
        throw new EngineError(
          422,
          'clock-skew',
          `createdAt is ${skew} ms from the hub's clock (at most ${this.marketConfig.rules.maxClockSkewMs})`,
        );
    }
    const [r] = this.appendEntries(() => [{ jws: compact, typ, kid }]);
    if (!r) throw new Error('append returned nothing');
    this.onAppended();
    return this.receiptOf(r.entry, r.outcome);
  }

  /** A signed contract (JWS JSON general serialisation): one leaf per signature, seller's first. */
  submitContract(signed: unknown): EngineReceipt[] {
    const check = verifySignedContract(
      signed,
      (kid) => {
        const pk = this.state.registry.participants[kid]?.publicKey;
        return pk === undefined ? undefined : safeDecode(pk);
      },
      { requireBoth: false },
    );
    if (!check.ok) {
      this.counters.rejected++;
      this.d.log.warn({ event: 'contract-rejected', reason: check.reason }, check.detail);
      const status =
        check.reason === 'kid-unknown' || check.reason === 'signer-not-party'
          ? 403
          : check.reason === 'schema'
            ? 422
            : 400;
      throw new EngineError(
        status,
        check.reason,
        check.reason === 'kid-unknown'
          ? `${check.detail} (each party applies first: POST /v1/participants)`
          : check.detail,
      );
    }
    const s = signed as SignedContract;
    const compacts = s.signatures.map((x) => `${x.protected}.${s.payload}.${x.signature}`);
    const receipts: EngineReceipt[] = [];
    const fresh: string[] = [];
    for (const c of compacts) {
      const dup = this.duplicate(c);
      if (dup) receipts.push(dup);
      else fresh.push(c);
    }
    const appended = this.appendEntries(() =>
      fresh.map((jws) => ({ jws, typ: CONTRACT_TYP, kid: decodeJwsUnverified(jws)?.header.kid ?? '' })),
    );
    for (const r of appended) receipts.push(this.receiptOf(r.entry, r.outcome));
    receipts.sort((a, b) => a.index - b.index);
    this.onAppended();
    return receipts;
  }

  /** Money in: a hub-signed operator credit (the operator's token authorised the caller). */
  credit(input: { account: string; amountMinor: number; reference: string }): EngineReceipt {
    const payload = { ...input, currency: this.d.config.currency, at: this.d.clock() };
    let entry: { jws: string; typ: string; kid: string };
    try {
      entry = this.signHub(OPERATOR_CREDIT_TYP, payload);
    } catch (err) {
      throw new EngineError(422, 'schema', (err as Error).message);
    }
    const [r] = this.appendEntries(() => [entry]);
    if (!r) throw new Error('append returned nothing');
    this.onAppended();
    return this.receiptOf(r.entry, r.outcome);
  }

  /** The compact JWS of the ledger entry at `index` (e.g. a market contract's match and orders). */
  entryJws(index: number): string | undefined {
    return this.d.ledger.entry(index)?.jws;
  }

  /** The time the engine acts at (its injected clock). */
  now(): number {
    return this.d.clock();
  }

  /**
   * A validator ruling on a person's word (the API checked the operator's token): `make` signs it
   * from the state as of the append, inside the ledger's transaction; its errors come back as is.
   */
  decide(make: (rulings: Rulings, state: LedgerState, at: number) => { compact: string }): EngineReceipt {
    const rulings = this.d.rulings;
    if (!rulings) throw new EngineError(409, 'no-validator', 'this hub makes no validator rulings');
    const [r] = this.appendEntries(() => [
      {
        jws: make(rulings, this.state, this.d.clock()).compact,
        typ: VALIDATOR_DECISION_TYP,
        kid: rulings.kid,
      },
    ]);
    if (!r) throw new Error('append returned nothing');
    this.onAppended();
    return this.receiptOf(r.entry, r.outcome);
  }

  // -------------------------------------------------------------------------------------------
  // The work: reviews, activations, settlements, closes, the market

  /** One round of everything due at the clock's time. Never throws. */
  tick(): void {
    // A tick scheduled (setImmediate) before stop() must not append after the hub's last checkpoint.
    if (this.closed) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        this.catchUp();
        // The market first: the contracts a gate closure makes are reviewed and activated at once.
        this.step('market', () => this.runMarket());
        this.step('review', () => this.runReviews());
        this.step('congestion', () => this.runCongestion());
        this.step('activation', () => this.runActivations());
        this.step('settlement', () => this.runSettlements());
        this.step('close', () => this.runCloses());
        this.step('prices', () => this.runPrices());
      } while (this.tickAgain && !this.stopped);
    } finally {
      this.ticking = false;
    }
  }

  private step(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.d.log.error({ event: 'engine-step-failed', step: what, err: (err as Error).message });
    }
  }

  /** Asks the validator until it has nothing more to decide (it decides one seller at a time). */
  runReviews(): void {
    const reviewer = this.d.reviewer;
    // What waits for review appears only with new entries: nothing new, nothing to ask.
    if (!reviewer || this.reviewedAt === this.state.size) return;
    for (let round = 0; round < 1000; round++) {
      let appended = 0;
      this.appendEntries(() => {
        const decisions = reviewer.review(this.state, this.d.clock());
        appended = decisions.length;
        return decisions.map((x) => ({ jws: x.compact, typ: VALIDATOR_DECISION_TYP, kid: reviewer.kid }));
      });
      if (appended === 0) {
        this.reviewedAt = this.state.size;
        return;
      }
    }
  }

  /** Appends the validator's congestion decisions (and the stops they lead to) until none are due. */
  runCongestion(): void {
    const c = this.d.congestion;
    if (!c) return;
    for (let round = 0; round < 1000; round++) {
      let appended = 0;
      this.appendEntries(() => {
        const entries = c.next(this.state, this.d.clock());
        appended = entries.length;
        return entries.map((x) => ({ jws: x.compact, typ: VALIDATOR_DECISION_TYP, kid: c.kid }));
      });
      if (appended === 0) return;
    }
  }

  /** Activates approved contracts whose parties can fund the deposits, before their window starts. */
  runActivations(): void {
    // A contract becomes activatable only through an entry (an approval, a credit, a release);
    // time only ever makes one not activatable. Nothing new since the last pass: nothing to do.
    if (this.activatedAt === this.state.size) return;
    for (const rec of Object.values(this.state.contracts).sort(byFirstIndex)) {
      if (rec.status !== 'approved') continue;
      const [r] = this.appendEntries(() => {
        const now = this.d.clock();
        if (
          this.state.contracts[rec.id]?.status !== 'approved' ||
          !canActivate(rec, this.state, now, this.foldConfig)
        )
          return [];
        return [this.signHub(CONTRACT_ACTIVATION_TYP, { contract: rec.id, at: now })];
      });
      if (r?.outcome.status === 'applied') {
        this.counters.activations++;
        this.d.log.info({ event: 'contract-activated', contract: rec.id, index: r.entry.index });
      }
    }
    this.activatedAt = this.state.size;
  }

  /** Settles every active contract whose (settled) window ended at least the grace ago. */
  runSettlements(): void {
    const grace = this.d.config.settlementGraceMs;
    for (const rec of Object.values(this.state.contracts).sort(byFirstIndex)) {
      if (rec.status !== 'active' && rec.status !== 'delivering' && rec.status !== 'stopping') continue;
      if (this.unsettleable.has(rec.id)) continue;
      if (this.d.clock() < settledTermsOf(rec).window.end + grace) continue;
      const [r] = this.appendEntries(() => {
        const plan = planSettlement(this.state, rec.id, this.d.clock());
        if (!plan.ok) {
          if (plan.code !== 'window-open' && plan.code !== 'already-settled') {
            this.unsettleable.add(rec.id);
            this.d.log.warn(
              { event: 'settlement-not-planned', contract: rec.id, code: plan.code },
              plan.message,
            );
          }
          return [];
        }
        return [this.signHub(SETTLEMENT_TYP, plan.payload)];
      });
      if (r?.outcome.status === 'applied') {
        this.counters.settlements++;
        const p = this.state.contracts[rec.id]?.settlement?.payload;
        this.d.log.info(
          {
            event: 'contract-settled',
            contract: rec.id,
            index: r.entry.index,
            outcome: p?.outcome,
            paymentMinor: p?.paymentMinor,
            penaltyMinor: p?.penaltyMinor,
          },
          'contract settled',
        );
      }
    }
  }

  /** Closes settled contracts whose dispute window is over. */
  runCloses(): void {
    for (const rec of Object.values(this.state.contracts).sort(byFirstIndex)) {
      if (rec.status !== 'settled' || rec.settlement === null) continue;
      if (this.d.clock() < rec.settlement.payload.at + rec.contract.disputeWindowMs) continue;
      this.appendEntries(() => {
        const cur = this.state.contracts[rec.id];
        if (cur?.status !== 'settled') return [];
        return [this.signHub(CONTRACT_CLOSE_TYP, { contract: rec.id, at: this.d.clock() })];
      });
    }
  }

  /** Sends an active contract to each of its delivery-point gateways (docs/hub.md). */
  sendContract(rec: ContractRecord, only?: string): void {
    if (only === undefined && this.sent.has(rec.id)) return;
    const text = contractMessageOf(rec, (i) => this.d.ledger.entry(i)?.jws);
    if (text === undefined) return;
    const gws = gatewaysOf(rec).filter((gw) => only === undefined || gw === only);
    for (const gw of gws) this.d.publish(topics.command(gw, 'contract'), text, { qos: 1, retain: false });
    if (only === undefined) this.sent.add(rec.id);
    this.d.log.info({ event: 'contract-sent', contract: rec.id, gateways: gws });
  }

  /**
   * A gateway's birth (a verified online status): its active contracts again, since the contract
   * command is not retained (once per status time, so a retained birth seen twice sends once).
   */
  onGatewayBirth(gw: string, at: number): void {
    if (this.stopped || (this.births.get(gw) ?? -1) >= at) return;
    this.births.set(gw, at);
    for (const rec of Object.values(this.state.contracts).sort(byFirstIndex))
      if (DELIVERED_STATUSES.includes(rec.status) && gatewaysOf(rec).includes(gw)) this.sendContract(rec, gw);
  }

  /** The contract as both parties signed it, rebuilt from its two leaves (seller's first). */
  signedContractOf(rec: ContractRecord): SignedContract | undefined {
    if (rec.market !== undefined) return undefined;
    const { seller, buyer } = rec.signatures;
    if (seller === null || buyer === null) return undefined;
    const a = this.d.ledger.entry(seller);
    const b = this.d.ledger.entry(buyer);
    if (!a || !b) return undefined;
    return signedContractFromCompacts([a.jws, b.jws]);
  }

  // -------------------------------------------------------------------------------------------
  // Market

  /** Auction mode: clears each book's interval once its gate has closed. Continuous: appends trades. */
  runMarket(): void {
    const cfg = this.marketConfig;
    if (!cfg) return;
    const rules = cfg.rules;
    if (rules.mode === 'continuous') {
      this.runContinuous(rules);
      return;
    }
    const now = this.d.clock();
    for (const { key, interval } of this.openBooks(rules)) {
      if (now < gateClosureOf(interval.start, rules)) continue;
      if (this.market.auctions.has(`${bookName(key)}@${interval.start}`)) continue;
      this.appendEntries(() => {
        if (this.market.auctions.has(`${bookName(key)}@${interval.start}`) || this.market.pending.length > 0)
          return [];
        const plan = planAuction(
          this.market.orders,
          key,
          interval,
          this.state.size - 1,
          rules,
          this.d.clock(),
        );
        const hub = this.d.hubKey;
        return [
          {
            jws: signJws(AUCTION_RESULT_TYP, hub.hubId, plan.result, hub.secretKey),
            typ: AUCTION_RESULT_TYP,
            kid: hub.hubId,
          },
          ...plan.matches.map((m) => ({
            jws: signJws(MARKET_MATCH_TYP, hub.hubId, m, hub.secretKey),
            typ: MARKET_MATCH_TYP,
            kid: hub.hubId,
          })),
        ];
      });
    }
  }

  private runContinuous(rules: MarketRules): void {
    for (const { key, interval } of this.openBooks(rules)) {
      this.appendEntries(() => {
        const book = `${bookName(key)}@${interval.start}`;
        const plan = planContinuous(this.market.orders, key, interval, this.state.size - 1, rules);
        const done = this.market.continuousCount.get(book) ?? 0;
        const hub = this.d.hubKey;
        return plan.matches.slice(done).map((m) => ({
          jws: signJws(MARKET_MATCH_TYP, hub.hubId, m, hub.secretKey),
          typ: MARKET_MATCH_TYP,
          kid: hub.hubId,
        }));
      });
    }
  }

  /** Every (book, settlement interval) some order in the log takes part in, not yet past. */
  private openBooks(rules: MarketRules): { key: BookKey; interval: { start: number; end: number } }[] {
    const out = new Map<string, { key: BookKey; interval: { start: number; end: number } }>();
    const period = rules.settlementPeriodMs;
    for (const lo of this.market.orders) {
      const w = lo.order.window;
      const key = bookKeyOf(lo.order);
      for (let s = w.start; s + period <= w.end; s += period) {
        const id = `${bookName(key)}@${s}`;
        if (!out.has(id)) out.set(id, { key, interval: { start: s, end: s + period } });
      }
    }
    return [...out.values()].sort((a, b) => a.interval.start - b.interval.start);
  }

  /** Publishes (and records) prices per region and energy when they changed. */
  runPrices(): void {
    const cfg = this.marketConfig;
    if (!cfg) return;
    const groups = new Map<string, { region: string; energy: EnergyType; starts: Set<number> }>();
    const period = cfg.rules.settlementPeriodMs;
    for (const r of this.market.auctions.values()) {
      if (r.book.product !== 'energy') continue;
      const k = `${r.book.region}/${r.book.energy}`;
      const g = groups.get(k) ?? { region: r.book.region, energy: r.book.energy, starts: new Set<number>() };
      g.starts.add(r.interval.start);
      groups.set(k, g);
    }
    for (const { region, energy, starts } of groups.values()) {
      const intervals = intervalPrices({
        region,
        energy,
        intervals: [...starts].sort((a, b) => a - b).map((start) => ({ start, end: start + period })),
        auctions: [...this.market.auctions.values()],
        continuousMatches: [],
        contracts: pricedContracts(this.state),
        marketContractIds: new Set(this.market.contracts.keys()),
        ...(energy === 'electricity' && this.d.congestion
          ? { lmps: congestionLmps(this.state, region, this.d.congestion.busRegions, starts, period) }
          : {}),
      });
      const text = JSON.stringify(intervals);
      if (this.published.get(`${region}/${energy}`) === text) continue;
      const pub = pricePublication(
        this.d.hubKey.hubId,
        region,
        energy,
        this.d.config.currency,
        intervals,
        this.d.clock(),
      );
      if (!pub) continue;
      const [r] = this.appendEntries(() => [this.signHub(PRICE_TYP, pub)]);
      if (!r) continue;
      this.d.publish(topics.prices(region, energy), r.entry.jws, { qos: 1, retain: true });
    }
  }
}

function byFirstIndex(a: ContractRecord, b: ContractRecord): number {
  return (a.history[0]?.index ?? 0) - (b.history[0]?.index ?? 0);
}

/**
 * Per interval start, the nodal congestion prices of the latest congestion decision for exactly
 * that interval, for the region's buses: each bus's price less the slack bus's, minor units per
 * MWh (a bus the decision does not list has 0). Only decisions made under congestion price carry
 * money (under minimum adjustment the values are policy weights), and a decision whose list was
 * cut or that has no congestion carries none: such intervals get no LMPs.
 */
export function congestionLmps(
  state: LedgerState,
  region: string,
  busRegions: Readonly<Record<string, string>>,
  starts: ReadonlySet<number>,
  periodMs: number,
): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  const buses = Object.keys(busRegions).filter((b) => busRegions[b] === region);
  if (buses.length === 0) return out;
  const latest = new Map<number, CongestionRecord>();
  for (const d of state.congestion)
    if (d.interval !== null && starts.has(d.interval.start) && d.interval.end === d.interval.start + periodMs)
      latest.set(d.interval.start, d);
  for (const [start, d] of latest) {
    if (d.nodalPrices?.unit !== 'minor units') continue;
    const prices = d.nodalPrices.prices;
    out.set(start, Object.fromEntries(buses.map((b) => [b, prices[b] ?? 0])));
  }
  return out;
}

function pricedContracts(state: LedgerState): PricedContract[] {
  const out: PricedContract[] = [];
  for (const rec of Object.values(state.contracts))
    if (rec.contract.product === 'energy')
      out.push({ id: rec.id, status: rec.status, contract: rec.contract });
  return out;
}

/**
 * Whether an activation entry would apply now: the fold's activation checks (docs/contracts.md,
 * "Activation"), so the engine never appends an activation the fold would refuse (it retries when
 * the money arrives instead).
 */
export function canActivate(
  rec: ContractRecord,
  state: LedgerState,
  now: number,
  config: FoldConfig,
): boolean {
  const c = rec.contract;
  if (rec.status !== 'approved') return false;
  if (now >= c.window.start || c.currency !== config.currency) return false;
  const need = new Map<string, number>();
  for (const side of ['seller', 'buyer'] as const) {
    const party = c[side];
    if (state.registry.participants[party]?.status !== 'approved') return false;
    for (const dp of c.deliveryPoints[side])
      if (ownerOfGateway(state.registry, dp.gw) !== party) return false;
    need.set(party, (need.get(party) ?? 0) + c.deposits[side]);
  }
  for (const [party, amount] of need)
    if ((state.money.accounts[party]?.available ?? 0) < amount) return false;
  return true;
}

function safeDecode(s: string): Uint8Array | undefined {
  try {
    return b64url.decode(s);
  } catch {
    return undefined;
  }
}

function decodeHash(jws: string): Uint8Array {
  return b64url.decode(messageHashB64(jws));
}
