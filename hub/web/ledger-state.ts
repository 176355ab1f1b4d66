// Follows the ledger and keeps what the dashboard shows from it: the contracts fold's state
// (participants, contracts, balances — the deterministic fold of hub/contracts, replayed entry by
// entry), the gap notes and the validator's congestion and dispute decisions. Catch-up reads the
// log in pages, so a large log is folded once at start and then a few entries at a time.
import { decodeJwsUnverified } from '../../protocol/index.js';
import {
  GAP_NOTE_TYP,
  parseGapNote,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import {
  applyEntry,
  emptyState,
  type FoldConfig,
  type LedgerState,
  logEntryFromJws,
} from '../contracts/fold.js';

export interface LedgerEntryLike {
  index: number;
  jws: string;
  typ: string;
  kid: string;
  gw: string | null;
  seq: number | null;
  receivedMs: number;
}

export interface LedgerReadLike {
  readonly size: number;
  range(start: number, end: number): LedgerEntryLike[];
}

export interface GapRecord {
  gw: string;
  from: number;
  to: number;
  index: number;
  at: number;
}

export interface DecisionRecord {
  index: number;
  kid: string;
  decision: ValidatorDecision;
}

const PAGE = 1000;

export class LedgerFollower {
  readonly state: LedgerState = emptyState();
  readonly gaps: GapRecord[] = [];
  readonly gapsByGateway = new Map<string, GapRecord[]>();
  readonly decisions: DecisionRecord[] = [];
  /** Gateways with entries folded since the caller last cleared this set. */
  readonly touched = new Set<string>();
  private folded = 0;

  constructor(
    private readonly ledger: LedgerReadLike,
    readonly config: FoldConfig,
  ) {}

  get size(): number {
    return this.folded;
  }

  /** Folds entries appended since the last call (at most `max`); returns how many. */
  catchUp(max = 50_000): number {
    let n = 0;
    while (this.folded < this.ledger.size && n < max) {
      const batch = this.ledger.range(this.folded, Math.min(this.ledger.size, this.folded + PAGE));
      if (batch.length === 0) break;
      for (const e of batch) {
        this.apply(e);
        this.folded = e.index + 1;
        n++;
      }
    }
    return n;
  }

  private apply(e: LedgerEntryLike): void {
    if (e.gw) this.touched.add(e.gw);
    const entry = logEntryFromJws(e.index, e.jws);
    if (entry) applyEntry(this.state, entry, this.config);
    else this.state.size = e.index + 1; // undecodable leaves do not stop the fold (verify names them)
    if (e.typ === GAP_NOTE_TYP) {
      const p = parseGapNote(decodeJwsUnverified(e.jws)?.payload);
      if (p.ok) {
        const g = { gw: p.value.gw, from: p.value.from, to: p.value.to, index: e.index, at: p.value.at };
        this.gaps.push(g);
        this.touched.add(g.gw);
        const list = this.gapsByGateway.get(g.gw) ?? [];
        list.push(g);
        this.gapsByGateway.set(g.gw, list);
      }
    } else if (e.typ === VALIDATOR_DECISION_TYP && entry) {
      const d = entry.payload as ValidatorDecision;
      if (this.config.validatorKids.includes(e.kid))
        this.decisions.push({ index: e.index, kid: e.kid, decision: d });
    }
  }
}
