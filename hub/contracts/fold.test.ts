import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import type { MeterProofFlag } from '../../protocol/messages/index.js';
import { accountOf, totalHeld } from './accounts.js';
import {
  applyEntry,
  foldLog,
  type LedgerState,
  type LogEntry,
  logEntryFromJws,
  planSettlement,
  stateHash,
} from './fold.js';
import type { LogBuilder } from './log-builder.js';
import { K, Q, registeredWorld, SCENARIO_CONFIG, scenarioContract } from './scenario.js';

const CFG = SCENARIO_CONFIG;
const WINDOW = { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q };

type Slot = number | null | { wh: number; flags: MeterProofFlag[] };

/** Appends gateway A's (seller, export) and gateway B's (buyer, import) proofs per interval. */
function deliver(b: LogBuilder, seller: Slot[], buyer: Slot[]) {
  const a = { importWh: 5_000, exportWh: 80_000 };
  const c = { importWh: 40_000, exportWh: 1_000 };
  const out = { seller: [] as LogEntry[], buyer: [] as LogEntry[] };
  for (let i = 0; i < 4; i++) {
    const start = EXAMPLE_T0 + i * Q;
    const s = seller[i];
    if (s !== null && s !== undefined) {
      const [wh, flags] = typeof s === 'number' ? [s, []] : [s.wh, s.flags];
      out.seller.push(
        b.proof(K.gatewayA.id, 'grid-meter', start, Q, { importWh: 3, exportWh: wh }, a, flags),
      );
    }
    const y = buyer[i];
    if (y !== null && y !== undefined) {
      const [wh, flags] = typeof y === 'number' ? [y, []] : [y.wh, y.flags];
      out.buyer.push(b.proof(K.gatewayB.id, 'grid-meter', start, Q, { importWh: wh, exportWh: 0 }, c, flags));
    }
  }
  return out;
}

/** Plans the hub's settlement from the folded state, appends it, and folds again. */
function settle(b: LogBuilder, id: string, at = WINDOW.end + 2 * Q): LedgerState {
  const before = foldLog(b.entries, CFG);
  const plan = planSettlement(before, id, at);
  if (!plan.ok) throw new Error(`${plan.code}: ${plan.message}`);
  b.settlement(K.hub.id, plan.payload);
  return foldLog(b.entries, CFG);
}

const bal = (s: LedgerState, id: string) => accountOf(s.money, id);
const refusals = (s: LedgerState) => s.notices.filter((n) => n.kind === 'refused').map((n) => n.code);

describe('contracts fold: the three outcomes settle to balances computed by hand', () => {
  // Both start with credits: seller 500, buyer 1000. Activation escrows seller 60, buyer 120:
  // seller available 440 + escrow 60, buyer available 880 + escrow 120. Total 1500 throughout.

  it('fulfilled: 4 × 1000 Wh delivered', () => {
    const { b, id } = registeredWorld();
    expect(foldLog(b.entries, CFG).contracts[id]?.status).toBe('active');
    deliver(b, [1000, 1100, 1000, 1200], [1500, 1000, 1300, 1000]);
    expect(foldLog(b.entries, CFG).contracts[id]?.status).toBe('delivering');
    const s = settle(b, id);
    // matched per interval: min(1000,1500)=1000, min(1100,1000)=1000, 1000, min(1200,1000)=1000,
    // each ≤ q=1000 → delivered 4000 = contracted 4000, shortfall 0.
    // payment = floor(4000 × 29 / 1000) = 116 (from the buyer's 120 escrow); penalty 0.
    // seller: 440 + 116 + release 60 = 616. buyer: 880 + release (120 − 116) = 884. 616 + 884 = 1500.
    const rec = s.contracts[id];
    expect(rec?.status).toBe('settled');
    expect(rec?.settlement?.payload).toMatchObject({
      outcome: 'fulfilled',
      contractedWh: 4000,
      sellerExportWh: 4300,
      buyerImportWh: 4800,
      deliveredWh: 4000,
      shortfallWh: 0,
      paymentMinor: 116,
      penaltyMinor: 0,
      unpaidMinor: 0,
      released: { seller: 60, buyer: 4 },
      proofCount: 8,
    });
    expect(bal(s, K.seller.id)).toEqual({ available: 616, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 884, escrow: 0 });
    expect(totalHeld(s.money)).toBe(1500);
    expect(refusals(s)).toEqual([]);
  });

  it('partly fulfilled: a short interval, a missing proof, a buyer who took less', () => {
    const { b, id } = registeredWorld();
    deliver(b, [1000, 650, null, 1000], [1200, 800, 900, 700]);
    const s = settle(b, id);
    // matched: min(1000,1200)=1000, min(650,800)=650, seller proof missing → 0, min(1000,700)=700.
    // delivered 2350, contracted 4000, shortfall 1650.
    // payment = floor(2350 × 29 / 1000) = floor(68.15) = 68; the 0.15 stays with the buyer.
    // penalty = floor(1650 × 20 / 1000) = 33 (≤ seller deposit 60).
    // seller: 440 + 68 + release (60 − 33 = 27) = 535.
    // buyer: 880 + release (120 − 68 = 52) + penalty 33 = 965. 535 + 965 = 1500.
    expect(s.contracts[id]?.settlement?.payload).toMatchObject({
      outcome: 'partial',
      deliveredWh: 2350,
      shortfallWh: 1650,
      paymentMinor: 68,
      penaltyMinor: 33,
      released: { seller: 27, buyer: 52 },
      proofCount: 7,
    });
    expect(s.contracts[id]?.settlement?.intervals.map((i) => i.deliveredWh)).toEqual([1000, 650, 0, 700]);
    expect(bal(s, K.seller.id)).toEqual({ available: 535, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 965, escrow: 0 });
  });

  it('the worked example of docs/contracts.md: a contradicting event changes no balance', () => {
    const { b, id } = registeredWorld();
    const p = deliver(b, [1000, 650, null, 1000], [1200, 800, 900, 700]);
    b.fulfilment(K.gatewayA.id, {
      contract: id,
      role: 'seller',
      window: WINDOW,
      contractedWh: 4000,
      measuredWh: 3000,
      proofs: p.seller.map((e) => e.messageHash),
    });
    const s = settle(b, id);
    expect(s.contracts[id]?.fulfilments[0]?.reasons).toEqual([
      { code: 'measured-mismatch', message: 'measuredWh 3000, the proofs show 2650' },
    ]);
    expect(bal(s, K.seller.id)).toEqual({ available: 535, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 965, escrow: 0 });
  });

  it('failed: nothing exported; the penalty is capped by the seller deposit', () => {
    const { b, id } = registeredWorld();
    deliver(b, [0, 0, 0, 0], [1000, 1000, 1000, 1000]);
    const s = settle(b, id);
    // delivered 0, shortfall 4000; penalty = floor(4000 × 20 / 1000) = 80, capped at the deposit 60.
    // seller: 440 + 0 + release 0 = 440. buyer: 880 + release 120 + penalty 60 = 1060. Sum 1500.
    expect(s.contracts[id]?.settlement?.payload).toMatchObject({
      outcome: 'failed',
      deliveredWh: 0,
      shortfallWh: 4000,
      paymentMinor: 0,
      penaltyMinor: 60,
      released: { seller: 0, buyer: 120 },
    });
    expect(bal(s, K.seller.id)).toEqual({ available: 440, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 1060, escrow: 0 });
  });

  it('a window with no proofs at all settles from active as failed', () => {
    const { b, id } = registeredWorld();
    const s = settle(b, id);
    expect(s.contracts[id]?.history.map((h) => h.status)).toEqual([
      'signing',
      'proposed',
      'approved',
      'active',
      'settled',
    ]);
    expect(s.contracts[id]?.settlement?.payload.outcome).toBe('failed');
  });

  it('a per-window quantity bounds the sum, and energy is matched per interval', () => {
    const { b, id } = registeredWorld({
      contract: scenarioContract({ quantity: { wh: 3000, per: 'window' } }),
    });
    deliver(b, [2000, 0, 1500, 0], [500, 2000, 1500, 0]);
    const s = settle(b, id);
    // matched: min(2000,500)=500, min(0,2000)=0, 1500, 0 → 2000 (the seller's 1500 Wh surplus in
    // interval 0 does not count against the buyer's import in interval 1). ≤ 3000 → delivered 2000.
    // payment floor(2000 × 29 / 1000) = 58; penalty floor(1000 × 20 / 1000) = 20.
    expect(s.contracts[id]?.settlement?.payload).toMatchObject({
      contractedWh: 3000,
      deliveredWh: 2000,
      paymentMinor: 58,
      penaltyMinor: 20,
    });
  });
});

describe('contracts fold: which proofs count', () => {
  it('clock-unsynchronised and counter-reset intervals count 0; device-error and gap count as signed', () => {
    const { b, id } = registeredWorld();
    deliver(
      b,
      [
        { wh: 1000, flags: ['clock-unsynchronised'] },
        { wh: 900, flags: ['device-error'] },
        { wh: 800, flags: ['gap'] },
        { wh: 700, flags: ['clock-jump'] },
      ],
      [1000, 1000, 1000, 1000],
    );
    const s = settle(b, id);
    expect(s.contracts[id]?.settlement?.intervals.map((i) => i.sellerExportWh)).toEqual([0, 900, 800, 0]);
  });

  it('proofs of a meter that is not a delivery point, or of the same interval twice, do not count', () => {
    const { b, id } = registeredWorld();
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    // The same interval again (a second proof of interval 0), and another meter of gateway A.
    b.proof(
      K.gatewayA.id,
      'grid-meter',
      EXAMPLE_T0,
      Q,
      { importWh: 0, exportWh: 999 },
      { importWh: 0, exportWh: 0 },
    );
    b.proof(
      K.gatewayA.id,
      'pv-meter',
      EXAMPLE_T0,
      Q,
      { importWh: 0, exportWh: 5000 },
      { importWh: 0, exportWh: 0 },
    );
    const s = settle(b, id);
    expect(s.contracts[id]?.settlement?.payload.sellerExportWh).toBe(4000);
    expect(s.contracts[id]?.settlement?.payload.proofCount).toBe(8);
  });

  it('finer proofs sum into their interval; a proof after the settlement changes nothing', () => {
    const { b, id } = registeredWorld();
    // Gateway A signs 5-minute proofs (3 per contract interval) for interval 0 only.
    const a = { importWh: 0, exportWh: 0 };
    for (let k = 0; k < 3; k++)
      b.proof(
        K.gatewayA.id,
        'grid-meter',
        EXAMPLE_T0 + k * 300_000,
        300_000,
        { importWh: 0, exportWh: 300 },
        a,
      );
    deliver(b, [null, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    const s = settle(b, id);
    expect(s.contracts[id]?.settlement?.intervals[0]?.sellerExportWh).toBe(900);
    const hash = stateHash(s);
    b.proof(K.gatewayA.id, 'grid-meter', EXAMPLE_T0 + 3 * Q, Q, { importWh: 0, exportWh: 50 }, a);
    const after = foldLog(b.entries, CFG);
    expect(after.contracts[id]?.proofs.length).toBe(s.contracts[id]?.proofs.length);
    expect(bal(after, K.seller.id)).toEqual(bal(s, K.seller.id));
    expect(stateHash(after)).not.toBe(hash); // size moved on; the contract did not
  });
});

describe('contracts fold: settlement happens exactly once', () => {
  it('a second settlement entry is refused and moves no money', () => {
    const { b, id } = registeredWorld();
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    const once = settle(b, id);
    const payload = once.contracts[id]?.settlement?.payload;
    if (payload === undefined) throw new Error('not settled');
    b.settlement(K.hub.id, { ...payload, at: payload.at + 1 });
    const twice = foldLog(b.entries, CFG);
    expect(refusals(twice)).toEqual(['already-settled']);
    expect(bal(twice, K.seller.id)).toEqual(bal(once, K.seller.id));
    expect(bal(twice, K.buyer.id)).toEqual(bal(once, K.buyer.id));
    expect(planSettlement(twice, id, payload.at).ok).toBe(false);
  });

  it('a settlement that does not match the recomputation is refused, naming the fields', () => {
    const { b, id } = registeredWorld();
    deliver(b, [1000, 1000, 1000, 500], [1000, 1000, 1000, 1000]);
    const state = foldLog(b.entries, CFG);
    const plan = planSettlement(state, id, WINDOW.end + Q);
    if (!plan.ok) throw new Error(plan.message);
    b.settlement(K.hub.id, { ...plan.payload, deliveredWh: 4000, paymentMinor: 116 });
    const s = foldLog(b.entries, CFG);
    const notice = s.notices.find((n) => n.code === 'settlement-mismatch');
    expect(notice?.message).toContain('deliveredWh is 4000, recomputed 3500');
    expect(notice?.message).toContain('paymentMinor is 116, recomputed 101');
    expect(s.contracts[id]?.status).toBe('delivering');
    expect(bal(s, K.seller.id)).toEqual({ available: 440, escrow: 60 });
    // The hub's correct settlement still applies afterwards.
    const fixed = settle(b, id);
    expect(fixed.contracts[id]?.settlement?.payload.paymentMinor).toBe(101); // floor(3500 × 29 / 1000)
  });

  it('refuses a settlement before the window closes, or signed by another key', () => {
    const { b, id } = registeredWorld();
    const state = foldLog(b.entries, CFG);
    expect(planSettlement(state, id, WINDOW.end - 1)).toMatchObject({ ok: false, code: 'window-open' });
    const plan = planSettlement(state, id, WINDOW.end);
    if (!plan.ok) throw new Error(plan.message);
    b.settlement(K.validator.id, plan.payload);
    expect(refusals(foldLog(b.entries, CFG))).toEqual(['not-the-hub']);
  });
});

describe('contracts fold: fulfilment events are compared with the proofs', () => {
  function withEvent(measure: (proofs: LogEntry[]) => { measuredWh: number; proofs: string[] }) {
    const { b, id } = registeredWorld();
    const p = deliver(b, [1000, 800, 1000, 1000], [1000, 1000, 1000, 1000]);
    const claim = measure(p.seller);
    b.fulfilment(K.gatewayA.id, {
      contract: id,
      role: 'seller',
      window: WINDOW,
      contractedWh: 4000,
      ...claim,
    });
    return { b, id, p };
  }

  it('an event that agrees with the proofs is recorded as consistent', () => {
    const { b, id } = withEvent((ps) => ({ measuredWh: 3800, proofs: ps.map((e) => e.messageHash) }));
    const s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.fulfilments).toMatchObject([{ verdict: 'consistent', recomputedWh: 3800 }]);
  });

  it('a contradicting event is recorded as contradicted and changes no money', () => {
    const { b, id } = withEvent((ps) => ({ measuredWh: 4000, proofs: ps.map((e) => e.messageHash) }));
    const s = settle(b, id);
    const f = s.contracts[id]?.fulfilments[0];
    expect(f?.verdict).toBe('contradicted');
    expect(f?.reasons.map((r) => r.code)).toEqual(['measured-mismatch']);
    expect(s.notices.some((n) => n.code === 'fulfilment-contradicted' && n.contract === id)).toBe(true);
    // Settlement reads the proofs: 3800 delivered, payment floor(3800 × 29 / 1000) = 110.
    expect(s.contracts[id]?.settlement?.payload.paymentMinor).toBe(110);
  });

  it('an event citing proofs the log does not hold is contradicted', () => {
    const { b, id } = withEvent((ps) => ({
      measuredWh: 3800,
      proofs: [...ps.slice(1).map((e) => e.messageHash), 'A'.repeat(43)],
    }));
    const s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.fulfilments[0]?.reasons.map((r) => r.code)).toEqual([
      'unknown-proof',
      'proof-not-cited',
    ]);
  });

  it('a replayed event (the same claim again) is refused as a duplicate; the first stands', () => {
    const { b, id, p } = withEvent((ps) => ({ measuredWh: 3800, proofs: ps.map((e) => e.messageHash) }));
    b.fulfilment(K.gatewayA.id, {
      contract: id,
      role: 'seller',
      window: WINDOW,
      contractedWh: 4000,
      measuredWh: 3800,
      proofs: p.seller.map((e) => e.messageHash),
    });
    const s = foldLog(b.entries, CFG);
    expect(refusals(s)).toEqual(['duplicate-fulfilment']);
    expect(s.contracts[id]?.fulfilments).toHaveLength(1);
  });

  it('an event signed by another gateway than it names, or from a gateway not a delivery point, is refused', () => {
    const { b, id, p } = withEvent((ps) => ({ measuredWh: 3800, proofs: ps.map((e) => e.messageHash) }));
    const forged = { ...(b.entries.at(-1)?.payload as Record<string, unknown>) };
    b.add('wattproof.fulfilment.v1', K.gatewayB.id, forged); // kid B, payload says gateway A
    b.fulfilment(K.gatewayB.id, {
      contract: id,
      role: 'seller',
      window: WINDOW,
      contractedWh: 4000,
      measuredWh: 0,
      proofs: p.buyer.slice(0, 1).map((e) => e.messageHash),
    });
    const s = foldLog(b.entries, CFG);
    expect(refusals(s)).toEqual(['kid-mismatch', 'not-a-delivery-point']);
    expect(s.contracts[id]?.fulfilments).toHaveLength(1);
  });
});

describe('contracts fold: lifecycle', () => {
  it('both parties cancelling before delivery releases the deposits', () => {
    const { b, id } = registeredWorld();
    b.cancellation(K.seller.id, id, EXAMPLE_T0 - 600_000);
    let s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.status).toBe('active');
    expect(s.notices.at(-1)?.code).toBe('cancellation-pending');
    b.cancellation(K.buyer.id, id, EXAMPLE_T0 - 500_000);
    s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.status).toBe('cancelled');
    expect(bal(s, K.seller.id)).toEqual({ available: 500, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 1000, escrow: 0 });
    // Nothing more happens to a cancelled contract.
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.proofs).toHaveLength(0);
    expect(planSettlement(s, id, WINDOW.end)).toMatchObject({ ok: false, code: 'not-active' });
  });

  it('refuses a cancellation once delivery started, by a non-party, or signed for someone else', () => {
    const { b, id } = registeredWorld();
    b.cancellation(K.gatewayA.id, id, EXAMPLE_T0 - 1); // not a participant at all
    b.add('wattproof.contract-cancellation.v1', K.seller.id, {
      contract: id,
      party: K.buyer.id,
      at: EXAMPLE_T0 - 1,
    });
    deliver(b, [1000, null, null, null], [null, null, null, null]);
    b.cancellation(K.seller.id, id, EXAMPLE_T0 - 1);
    expect(refusals(foldLog(b.entries, CFG))).toEqual(['schema', 'signer-not-party', 'delivery-started']);
  });

  it('refuses steps out of order, each with a reason, and never throws', () => {
    const { b, id } = registeredWorld({ activate: false });
    b.close(K.hub.id, id, WINDOW.end); // not settled
    b.decision(K.validator.id, {
      kind: 'contract-review',
      subject: id,
      outcome: 'approved',
      reasons: [],
      inputsHash: 'A'.repeat(43),
      at: 1,
    }); // reviewed twice
    b.activation(K.hub.id, id, WINDOW.start); // too late
    b.add('wattproof.contract-activation.v1', K.hub.id, { contract: id }); // no `at`
    b.add('wattproof.operator-credit.v1', K.hub.id, {
      account: K.gatewayA.id,
      amountMinor: 5,
      currency: 'EUR',
      reference: 'x',
      at: 1,
    });
    const s = foldLog(b.entries, CFG);
    expect(refusals(s)).toEqual(['not-settled', 'not-proposed', 'window-started', 'schema', 'schema']);
    expect(s.contracts[id]?.status).toBe('approved');
  });

  it('activation needs the deposits available; a credit later lets it through', () => {
    const big = scenarioContract({ deposits: { seller: 60, buyer: 1200 } });
    const { b, id } = registeredWorld({ contract: big });
    let s = foldLog(b.entries, CFG);
    expect(s.notices.at(-1)).toMatchObject({ code: 'insufficient-funds', contract: id });
    expect(bal(s, K.seller.id)).toEqual({ available: 500, escrow: 0 }); // nothing moved
    b.credit(K.hub.id, K.buyer.id, 200, EXAMPLE_T0 - 1_000_000);
    b.activation(K.hub.id, id, EXAMPLE_T0 - 900_000);
    s = foldLog(b.entries, CFG);
    expect(s.contracts[id]?.status).toBe('active');
    expect(bal(s, K.buyer.id)).toEqual({ available: 0, escrow: 1200 });
  });

  it('closes only after the dispute window', () => {
    const { b, id } = registeredWorld();
    const s0 = settle(b, id);
    const at = s0.contracts[id]?.settlement?.payload.at ?? 0;
    b.close(K.hub.id, id, at + 86_400_000 - 1);
    b.close(K.hub.id, id, at + 86_400_000);
    const s = foldLog(b.entries, CFG);
    expect(refusals(s)).toEqual(['dispute-window-open']);
    expect(s.contracts[id]?.status).toBe('closed');
  });

  it('a refused review ends the contract; an entry out of order is refused', () => {
    const { b } = registeredWorld({ activate: false });
    const state = foldLog(b.entries.slice(0, -1), CFG);
    const review = b.entries.at(-1) as LogEntry;
    const refusedReview = {
      ...review,
      payload: {
        ...(review.payload as object),
        outcome: 'refused',
        reasons: [{ code: 'price-above-cap', message: 'too dear' }],
      },
    };
    expect(applyEntry(state, { ...refusedReview, index: review.index + 1 }, CFG)).toMatchObject({
      status: 'refused',
      code: 'out-of-order',
    });
    expect(applyEntry(state, refusedReview, CFG)).toMatchObject({ status: 'applied' });
    const rec = Object.values(state.contracts)[0];
    expect(rec?.status).toBe('refused');
    expect(rec?.review?.reasons[0]?.code).toBe('price-above-cap');
    expect(state.pointIndex).toEqual({});
  });
});

describe('contracts fold: replay', () => {
  it('re-folding the log reproduces the state byte for byte', () => {
    const { b, id } = registeredWorld();
    deliver(b, [1000, 650, null, 1000], [1200, 800, 900, 700]);
    settle(b, id);
    const first = foldLog(b.entries, CFG);
    const copy = b.entries.map((e) => JSON.parse(JSON.stringify(e)) as LogEntry);
    expect(stateHash(foldLog(copy, CFG))).toBe(stateHash(first));
  });

  it('a log of real signed JWS leaves folds to the same state as the built entries', () => {
    const signed = registeredWorld({ sign: true });
    deliver(signed.b, [1000, 1000, 900, 1000], [1000, 1000, 1000, 1000]);
    settle(signed.b, signed.id);
    const state = foldLog(signed.b.entries, CFG);
    expect(state.contracts[signed.id]?.settlement?.payload.deliveredWh).toBe(3900);
    expect(refusals(state)).toEqual([]);
    const replayed = foldLog(
      signed.b.compacts.map((c, i) => logEntryFromJws(i, c) as LogEntry),
      CFG,
    );
    expect(stateHash(replayed)).toBe(stateHash(state));
  });
});
