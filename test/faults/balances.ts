// The checker's own balance arithmetic: from the ledger's entries alone (credits, contracts,
// activations, meter proofs, settlements) and the contract terms, what every account must hold,
// computed with plain integer sums as docs/contracts.md states the rules ("Which proofs count",
// "Settlement"). It does not call the hub's fold, its settlement or the protocol's counting rule:
// it is a second, simpler reading of the same documented rules, compared with the hub's accounts.
import { decodeJwsUnverified } from '../../protocol/index.js';
import {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_TYP,
  contractIdOf,
  DISPUTE_TYP,
  METER_PROOF_TYP,
  OPERATOR_CREDIT_TYP,
  SETTLEMENT_TYP,
} from '../../protocol/messages/index.js';

export interface Account {
  available: number;
  escrow: number;
}

/** What the checker computed for one settled contract. */
export interface ContractFigures {
  contract: string;
  contractedWh: number;
  sellerExportWh: number;
  buyerImportWh: number;
  deliveredWh: number;
  shortfallWh: number;
  paymentMinor: number;
  penaltyMinor: number;
  unpaidMinor: number;
  released: { seller: number; buyer: number };
}

export interface BalanceCheck {
  /** Account → balance by the checker's arithmetic. */
  expected: Map<string, Account>;
  contracts: ContractFigures[];
  /** Figures of a settlement entry that differ from the checker's, and anything not modelled. */
  problems: string[];
}

// docs/contracts.md, "Which proofs count", rule 4.
const ZERO_COUNT = new Set(['clock-jump', 'clock-unsynchronised', 'counter-reset', 'scale-change']);

interface Terms {
  id: string;
  firstIndex: number;
  seller: string;
  buyer: string;
  energy: string;
  period: number;
  window: { start: number; end: number };
  points: { seller: Set<string>; buyer: Set<string> };
  deposits: { seller: number; buyer: number };
  quantity: { wh: number; per: 'interval' | 'window' };
  price: number;
  penalty: number;
  active: boolean;
  settled: boolean;
}

interface Proof {
  index: number;
  point: string;
  energy: string;
  start: number;
  end: number;
  importWh: number;
  exportWh: number;
  zero: boolean;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);

/** Walks the log once, in index order, moving money as the documented rules say. */
export function expectedBalances(leaves: readonly string[]): BalanceCheck {
  const expected = new Map<string, Account>();
  const acct = (id: string): Account => {
    let a = expected.get(id);
    if (!a) {
      a = { available: 0, escrow: 0 };
      expected.set(id, a);
    }
    return a;
  };
  const contracts = new Map<string, Terms>();
  const proofs: Proof[] = [];
  const figures: ContractFigures[] = [];
  const problems: string[] = [];

  leaves.forEach((leaf, index) => {
    const d = decodeJwsUnverified(leaf);
    if (!d) return;
    const p = rec(d.payload);
    switch (d.header.typ) {
      case OPERATOR_CREDIT_TYP:
        acct(String(p.account)).available += num(p.amountMinor);
        return;
      case CONTRACT_TYP: {
        const id = contractIdOf(leaf.split('.')[1] as string);
        if (contracts.has(id) || p.product !== 'energy') return;
        const points = rec(p.deliveryPoints);
        const pointSet = (side: unknown) =>
          new Set((Array.isArray(side) ? side : []).map((x) => `${rec(x).gw}/${rec(x).meter}`));
        const q = rec(p.quantity);
        contracts.set(id, {
          id,
          firstIndex: index,
          seller: String(p.seller),
          buyer: String(p.buyer),
          energy: String(p.energy),
          period: num(p.settlementPeriodMs),
          window: { start: num(rec(p.window).start), end: num(rec(p.window).end) },
          points: { seller: pointSet(points.seller), buyer: pointSet(points.buyer) },
          deposits: { seller: num(rec(p.deposits).seller), buyer: num(rec(p.deposits).buyer) },
          quantity: { wh: num(q.wh), per: q.per === 'window' ? 'window' : 'interval' },
          price: num(p.priceMinorPerKWh),
          penalty: num(p.penaltyMinorPerKWh),
          active: false,
          settled: false,
        });
        return;
      }
      case CONTRACT_ACTIVATION_TYP: {
        const c = contracts.get(String(p.contract));
        if (!c || c.active) return;
        c.active = true;
        for (const [who, dep] of [
          [c.seller, c.deposits.seller],
          [c.buyer, c.deposits.buyer],
        ] as const) {
          acct(who).available -= dep;
          acct(who).escrow += dep;
        }
        return;
      }
      case METER_PROOF_TYP: {
        const meter = rec(p.meter);
        const imp = rec(p.importWh);
        const exp = rec(p.exportWh);
        const flags = Array.isArray(p.flags) ? p.flags.map(String) : [];
        proofs.push({
          index,
          point: `${p.gw}/${meter.id}`,
          energy: typeof p.energy === 'string' ? p.energy : 'electricity',
          start: num(rec(p.interval).start),
          end: num(rec(p.interval).end),
          importWh: num(imp.end) - num(imp.start),
          exportWh: num(exp.end) - num(exp.start),
          zero: flags.some((f) => ZERO_COUNT.has(f)),
        });
        return;
      }
      case SETTLEMENT_TYP: {
        const c = contracts.get(String(p.contract));
        if (!c?.active || c.settled) return;
        c.settled = true;
        const f = settle(c, proofs, index, acct);
        figures.push(f);
        for (const k of ['deliveredWh', 'paymentMinor', 'penaltyMinor', 'unpaidMinor'] as const)
          if (p[k] !== f[k])
            problems.push(`${c.id}: the settlement entry says ${k} ${p[k]}, the checker ${f[k]}`);
        return;
      }
      case CONTRACT_CANCELLATION_TYP:
      case DISPUTE_TYP:
        if (contracts.has(String(p.contract)))
          problems.push(`${String(p.contract)}: ${d.header.typ} is not modelled by the checker`);
        return;
      default:
        return;
    }
  });
  return { expected, contracts: figures, problems };
}

function settle(
  c: Terms,
  all: readonly Proof[],
  settledAt: number,
  acct: (id: string) => Account,
): ContractFigures {
  const slots = (c.window.end - c.window.start) / c.period;
  // Counted Wh per settlement interval, per side; proofs from the contract's first leaf to its
  // settlement, in log order, the first one of a meter's time standing.
  const side = (points: Set<string>, pick: (p: Proof) => number): number[] => {
    const perSlot = new Array<number>(slots).fill(0);
    const taken = new Map<string, Array<[number, number]>>();
    for (const p of all) {
      if (p.index < c.firstIndex || p.index > settledAt || !points.has(p.point)) continue;
      if (p.energy !== c.energy || p.start < c.window.start || p.end > c.window.end) continue;
      const slot = Math.floor((p.start - c.window.start) / c.period);
      if (p.end > c.window.start + (slot + 1) * c.period) continue;
      if (p.zero || pick(p) < 0) continue;
      const seen = taken.get(p.point) ?? [];
      if (seen.some(([s, e]) => s < p.end && p.start < e)) continue;
      seen.push([p.start, p.end]);
      taken.set(p.point, seen);
      perSlot[slot] = (perSlot[slot] as number) + pick(p);
    }
    return perSlot;
  };
  const seller = side(c.points.seller, (p) => p.exportWh);
  const buyer = side(c.points.buyer, (p) => p.importWh);
  const matched = seller.map((s, i) => Math.min(s, buyer[i] as number));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const contracted = c.quantity.per === 'interval' ? c.quantity.wh * slots : c.quantity.wh;
  const delivered =
    c.quantity.per === 'interval'
      ? sum(matched.map((m) => Math.min(m, c.quantity.wh)))
      : Math.min(sum(matched), c.quantity.wh);
  const shortfall = contracted - delivered;
  const payment = Math.floor((delivered * c.price) / 1000);
  const s = acct(c.seller);
  const b = acct(c.buyer);
  // The payment comes from the buyer's escrow first, then its available money; the rest is unpaid.
  const fromEscrow = Math.min(payment, c.deposits.buyer);
  const fromAvailable = Math.min(payment - fromEscrow, b.available);
  const unpaid = payment - fromEscrow - fromAvailable;
  const penalty = Math.min(Math.floor((shortfall * c.penalty) / 1000), c.deposits.seller);
  const released = { seller: c.deposits.seller - penalty, buyer: c.deposits.buyer - fromEscrow };
  b.escrow -= c.deposits.buyer;
  b.available += released.buyer - fromAvailable + penalty;
  s.escrow -= c.deposits.seller;
  s.available += released.seller + fromEscrow + fromAvailable;
  return {
    contract: c.id,
    contractedWh: contracted,
    sellerExportWh: sum(seller),
    buyerImportWh: sum(buyer),
    deliveredWh: delivered,
    shortfallWh: shortfall,
    paymentMinor: payment,
    penaltyMinor: penalty,
    unpaidMinor: unpaid,
    released,
  };
}

/** The checker's balances against the hub's accounts; every difference named. */
export function compareBalances(expected: Map<string, Account>, hub: Map<string, Account>): string[] {
  const out: string[] = [];
  for (const [id, e] of expected) {
    const h = hub.get(id);
    if (!h) out.push(`${id}: the hub has no account (expected ${JSON.stringify(e)})`);
    else if (h.available !== e.available || h.escrow !== e.escrow)
      out.push(`${id}: the hub says ${JSON.stringify(h)}, the checker ${JSON.stringify(e)}`);
  }
  return out;
}
