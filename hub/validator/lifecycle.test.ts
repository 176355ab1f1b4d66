// The validator's effects in the fold, with balances worked out by hand: the stop rule,
// deregistration ending open contracts, disputes with bounded refunds, complaints. Every log here
// is signed for real (validator decisions by the Validator service) and refolded from scratch.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import { accountOf, totalHeld } from '../contracts/accounts.js';
import { applyEntry, emptyState, type LedgerState, planSettlement, stateHash } from '../contracts/fold.js';
import type { LogBuilder } from '../contracts/log-builder.js';
import {
  activeWorld,
  CFG,
  compliantContract,
  DAY,
  deliver,
  fold,
  K,
  makeValidator,
  propose,
  Q,
  registeredWorld,
  runValidator,
  T_REVIEW,
} from './fixtures.js';

const bal = (s: LedgerState, id: string) => accountOf(s.money, id);
const refusals = (s: LedgerState) => s.notices.filter((n) => n.kind === 'refused').map((n) => n.code);
const lastRefusal = (s: LedgerState) => s.notices.filter((n) => n.kind === 'refused').at(-1)?.code;

function settle(b: LogBuilder, id: string, at: number): LedgerState {
  const plan = planSettlement(fold(b), id, at);
  if (!plan.ok) throw new Error(`${plan.code}: ${plan.message}`);
  b.settlement(K.hub.id, plan.payload);
  return fold(b);
}

/** Folding entry by entry gives the same state as folding the whole log at once. */
function replayAgrees(b: LogBuilder): void {
  const stepwise = emptyState();
  for (const e of b.entries) applyEntry(stepwise, e, CFG);
  expect(stateHash(stepwise)).toBe(stateHash(fold(b)));
  expect(stateHash(fold(b))).toBe(stateHash(fold(b)));
}

describe('stop rule', () => {
  // After activation: seller 500 − 80 = 420 available + 80 escrow; buyer 1000 − 120 = 880 + 120.
  const reason = [{ code: 'regulator-order', message: 'the regulator ordered the trade stopped' }];

  it('mid-window: settles the intervals before the stop by the usual rule, nothing for the rest', () => {
    const { b, id, v } = activeWorld();
    deliver(b, [1000, 600], [1000, 1000]);
    // Stop inside the third interval (10:35): the part that settles ends at 10:30.
    b.appendSigned(v.stop(fold(b), id, reason, EXAMPLE_T0 + 2 * Q + 300_000).compact);
    let s = fold(b);
    expect(s.contracts[id]?.status).toBe('stopping');
    expect(s.contracts[id]?.stop).toMatchObject({ endsAt: EXAMPLE_T0 + 2 * Q, by: 'validator' });
    // The third and fourth intervals' proofs arrive but do not count.
    deliver(b, [1000, 1000], [1000, 1000], undefined, 2);
    // Settling before the stop's end is refused as window-open.
    expect(planSettlement(fold(b), id, EXAMPLE_T0 + 2 * Q - 1)).toMatchObject({
      ok: false,
      code: 'window-open',
    });
    s = settle(b, id, EXAMPLE_T0 + 2 * Q + 600_000);
    // contracted = 2 × 1000 = 2000 Wh (the two intervals before the stop; nothing after it);
    // delivered = 1000 + min(600, 1000) = 1600; shortfall 400.
    // payment = floor(1600 × 29 / 1000) = floor(46.4) = 46; penalty = floor(400 × 20 / 1000) = 8.
    // seller: 420 + 46 + (80 − 8) released = 538; buyer: 880 + (120 − 46) + 8 = 962. Σ 1500.
    expect(s.contracts[id]?.settlement?.payload).toMatchObject({
      outcome: 'partial',
      contractedWh: 2000,
      deliveredWh: 1600,
      shortfallWh: 400,
      paymentMinor: 46,
      penaltyMinor: 8,
      released: { seller: 72, buyer: 74 },
      proofCount: 4,
    });
    expect(s.contracts[id]?.status).toBe('settled');
    expect(bal(s, K.seller.id)).toEqual({ available: 538, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 962, escrow: 0 });
    expect(totalHeld(s.money)).toBe(1500);
    expect(refusals(s)).toEqual([]);
    replayAgrees(b);
  });

  it('a per-window quantity is prorated to the part of the window that settles', () => {
    // 4000 Wh over the hour; stopped at 10:30 → 2000 Wh owed for the first half (floor(4000 × 2/4)).
    // Delivered 1500 + 900 = 2400 → 2000 counted; payment floor(2000 × 29 / 1000) = 58, no shortfall.
    const { b, id, v } = activeWorld(compliantContract({ quantity: { wh: 4000, per: 'window' } }));
    deliver(b, [1500, 900], [1500, 1000]);
    b.appendSigned(v.stop(fold(b), id, reason, EXAMPLE_T0 + 2 * Q).compact);
    const s = settle(b, id, EXAMPLE_T0 + 2 * Q);
    expect(s.contracts[id]?.settlement?.payload).toMatchObject({
      outcome: 'fulfilled',
      contractedWh: 2000,
      deliveredWh: 2000,
      shortfallWh: 0,
      paymentMinor: 58,
      penaltyMinor: 0,
      released: { seller: 80, buyer: 62 },
    });
    expect(bal(s, K.seller.id)).toEqual({ available: 558, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 942, escrow: 0 });
  });

  it('before the window: the contract is stopped and both deposits go back in full', () => {
    const { b, id, v } = activeWorld();
    b.appendSigned(v.stop(fold(b), id, reason, EXAMPLE_T0 - 600_000).compact);
    const s = fold(b);
    expect(s.contracts[id]?.status).toBe('stopped');
    expect(bal(s, K.seller.id)).toEqual({ available: 500, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 1000, escrow: 0 });
    // Nothing left to settle; a late proof is not collected.
    deliver(b, [1000], [1000]);
    expect(fold(b).contracts[id]?.proofs).toEqual([]);
    expect(planSettlement(fold(b), id, EXAMPLE_T0 + 4 * Q)).toMatchObject({ ok: false, code: 'not-active' });
  });

  it('an approved contract not yet active stops with nothing to move; a settled one cannot be stopped', () => {
    const v = makeValidator();
    const b = registeredWorld(v);
    const id = propose(b, compliantContract());
    runValidator(b, v, T_REVIEW);
    b.appendSigned(v.stop(fold(b), id, reason, T_REVIEW + 1).compact);
    expect(fold(b).contracts[id]?.status).toBe('stopped');

    const w = activeWorld();
    deliver(w.b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    settle(w.b, w.id, EXAMPLE_T0 + 5 * Q);
    expect(() => w.v.stop(fold(w.b), w.id, reason, EXAMPLE_T0 + 5 * Q)).toThrow(/the contract is settled/);
    // Signed anyway (by a careless validator), the fold refuses it and moves nothing.
    const before = fold(w.b);
    w.b.decision(K.validator.id, {
      kind: 'contract-stop',
      subject: w.id,
      outcome: 'stopped',
      reasons: reason,
      inputsHash: before.contracts[w.id]?.entryHashes[0] as string,
      at: EXAMPLE_T0 + 5 * Q,
    });
    const after = fold(w.b);
    expect(lastRefusal(after)).toBe('not-stoppable');
    expect(after.money).toEqual(before.money);
  });
});

describe('deregistration', () => {
  it('the participant asks; the validator approves; open contracts end in order', () => {
    const v = makeValidator();
    const b = registeredWorld(v);
    // C: delivering now (10:00–11:00). B: active tomorrow. A: proposed, never reviewed.
    const c = propose(b, compliantContract());
    const later = { start: EXAMPLE_T0 + DAY, end: EXAMPLE_T0 + DAY + 4 * Q };
    const bId = propose(b, compliantContract({ window: later, nonce: 'dG9tb3Jyb3ctY29udHJhY3Q' }));
    runValidator(b, v, T_REVIEW);
    b.activation(K.hub.id, c, EXAMPLE_T0 - 1_800_000);
    b.activation(K.hub.id, bId, EXAMPLE_T0 - 1_800_000);
    const a = propose(b, compliantContract({ window: later, nonce: 'cHJvcG9zZWQtY29udHJhY3Q' }));
    // Escrow: seller 2 × 80 = 160, buyer 2 × 120 = 240.
    expect(bal(fold(b), K.seller.id)).toEqual({ available: 340, escrow: 160 });
    deliver(b, [1000, 1000], [1000, 900]);
    b.deregistrationRequest(K.seller.id, EXAMPLE_T0 + 2 * Q + 60_000, 'house sold');
    const decisions = v.review(fold(b), EXAMPLE_T0 + 2 * Q + 120_000);
    // One decision answers the request (the batch also reviews contract A; only the deregistration
    // is appended here, so A is still proposed when its seller leaves).
    expect(
      decisions.map((d) => [d.decision.kind, d.decision.outcome, d.decision.reasons[0]?.code]),
    ).toContainEqual(['deregistration', 'approved', 'participant-request']);
    const dereg = decisions.find((d) => d.decision.kind === 'deregistration');
    b.appendSigned(dereg?.compact as string);
    let s = fold(b);
    expect(s.registry.participants[K.seller.id]?.status).toBe('deregistered');
    expect(s.contracts[a]?.status).toBe('cancelled');
    expect(s.contracts[bId]?.status).toBe('cancelled');
    expect(s.contracts[c]?.status).toBe('stopping');
    expect(s.contracts[c]?.stop).toMatchObject({
      by: 'deregistration',
      participant: K.seller.id,
      endsAt: EXAMPLE_T0 + 2 * Q,
    });
    // B's deposits are back; C's are still held for its settlement.
    expect(bal(s, K.seller.id)).toEqual({ available: 420, escrow: 80 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 880, escrow: 120 });
    expect(s.notices.filter((n) => n.kind === 'note').map((n) => [n.code, n.contract])).toEqual(
      expect.arrayContaining([
        ['contract-cancelled', a],
        ['contract-cancelled', bId],
        ['contract-stopped', c],
      ]),
    );
    s = settle(b, c, EXAMPLE_T0 + 2 * Q + 600_000);
    // C: 2 intervals, delivered 1000 + 900 = 1900 Wh of 2000: payment floor(1900 × 29 / 1000) = 55,
    // penalty floor(100 × 20 / 1000) = 2. seller 420 + 55 + 78 = 553; buyer 880 + 65 + 2 = 947.
    expect(s.contracts[c]?.settlement?.payload).toMatchObject({
      contractedWh: 2000,
      deliveredWh: 1900,
      paymentMinor: 55,
      penaltyMinor: 2,
    });
    expect(bal(s, K.seller.id)).toEqual({ available: 553, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 947, escrow: 0 });
    expect(totalHeld(s.money)).toBe(1500);
    replayAgrees(b);
  });

  it('the validator deregisters on its own motion only with reasons', () => {
    const v = makeValidator();
    const b = registeredWorld(v);
    expect(() => v.deregister(fold(b), K.buyer.id, [], EXAMPLE_T0)).toThrow(/names its reasons/);
    b.decision(K.validator.id, {
      kind: 'deregistration',
      subject: K.buyer.id,
      outcome: 'approved',
      reasons: [],
      inputsHash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      at: EXAMPLE_T0,
    });
    expect(lastRefusal(fold(b))).toBe('reason-required');
    b.appendSigned(
      v.deregister(fold(b), K.buyer.id, [{ code: 'complaint-upheld', message: 'repeated fraud' }], EXAMPLE_T0)
        .compact,
    );
    expect(fold(b).registry.participants[K.buyer.id]?.status).toBe('deregistered');
  });

  it('a request from someone else, or from a participant not registered, is refused', () => {
    const b = registeredWorld();
    b.add('wattproof.deregistration-request.v1', K.buyer.id, { participant: K.seller.id, at: EXAMPLE_T0 });
    expect(lastRefusal(fold(b))).toBe('signer-not-participant');
    b.deregistrationRequest(K.seller.id, EXAMPLE_T0);
    b.deregistrationRequest(K.seller.id, EXAMPLE_T0 + 1);
    expect(lastRefusal(fold(b))).toBe('already-requested');
  });
});

describe('disputes', () => {
  /** A fulfilled contract: payment 116 buyer → seller, no penalty. Seller 616, buyer 884. */
  function settledWorld() {
    const w = activeWorld();
    deliver(w.b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    const proof = w.b.entries.at(-1)?.messageHash as string;
    const settleAt = EXAMPLE_T0 + 5 * Q;
    const s = settle(w.b, w.id, settleAt);
    const settlement = w.b.entries.at(-1)?.messageHash as string;
    expect(bal(s, K.seller.id)).toEqual({ available: 616, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 884, escrow: 0 });
    return { ...w, proof, settlement, settleAt };
  }
  const claim = (contract: string, evidence: string[], at: number, party = K.buyer.id) => ({
    contract,
    party,
    claim: 'my meter undercounted the third interval',
    claimMinor: 20,
    evidence,
    at,
  });

  it('within the window: upheld with a refund that moves exactly, and the contract closes after', () => {
    const w = settledWorld();
    const d = w.b.dispute(claim(w.id, [w.settlement, w.proof], w.settleAt + 3_600_000));
    let s = fold(w.b);
    expect(s.contracts[w.id]?.status).toBe('disputed');
    expect(s.disputes[d.messageHash]).toMatchObject({ status: 'open', party: K.buyer.id, claimMinor: 20 });
    // Close during the dispute is refused.
    w.b.close(K.hub.id, w.id, w.settleAt + 2 * DAY);
    expect(lastRefusal(fold(w.b))).toBe('dispute-open');
    const ruling = w.v.rule(
      fold(w.b),
      d.messageHash,
      {
        outcome: 'upheld',
        reasons: [{ code: 'meter-fault', message: 'the buyer’s meter was replaced mid-interval' }],
        refund: { from: K.seller.id, to: K.buyer.id, amountMinor: 20 },
      },
      w.settleAt + DAY,
    );
    w.b.appendSigned(ruling.compact);
    s = fold(w.b);
    expect(s.disputes[d.messageHash]?.status).toBe('upheld');
    expect(s.disputes[d.messageHash]?.ruling).toMatchObject({ paidMinor: 20, unpaidMinor: 0 });
    expect(bal(s, K.seller.id)).toEqual({ available: 596, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 904, escrow: 0 });
    expect(totalHeld(s.money)).toBe(1500);
    expect(s.contracts[w.id]?.status).toBe('settled');
    w.b.close(K.hub.id, w.id, w.settleAt + 2 * DAY);
    expect(fold(w.b).contracts[w.id]?.status).toBe('closed');
    replayAgrees(w.b);
  });

  it('a refund is bounded by what the settlement moved the other way, less earlier refunds', () => {
    const w = settledWorld();
    const d1 = w.b.dispute(claim(w.id, [w.settlement], w.settleAt + 1000));
    const upheld = (amountMinor: number, from = K.seller.id, to = K.buyer.id) => ({
      kind: 'dispute' as const,
      subject: d1.messageHash,
      outcome: 'upheld' as const,
      reasons: [{ code: 'meter-fault', message: 'meter fault' }],
      refund: { from, to, amountMinor },
      inputsHash: w.settlement,
      at: w.settleAt + 2000,
    });
    expect(() => w.v.rule(fold(w.b), d1.messageHash, { ...upheld(117) }, w.settleAt + 2000)).toThrow(
      /at most 116/,
    );
    w.b.decision(K.validator.id, upheld(117));
    expect(lastRefusal(fold(w.b))).toBe('refund-above-bound');
    // The buyer → seller direction is bounded by the penalty, which was 0.
    w.b.decision(K.validator.id, upheld(1, K.buyer.id, K.seller.id));
    expect(lastRefusal(fold(w.b))).toBe('refund-above-bound');
    w.b.decision(K.validator.id, upheld(100));
    expect(bal(fold(w.b), K.buyer.id).available).toBe(984);
    // A second dispute may move at most the remaining 16.
    const d2 = w.b.dispute({
      ...claim(w.id, [w.proof], w.settleAt + 3000),
      claim: 'and the fourth interval',
    });
    w.b.decision(K.validator.id, { ...upheld(17), subject: d2.messageHash });
    expect(lastRefusal(fold(w.b))).toBe('refund-above-bound');
    w.b.decision(K.validator.id, { ...upheld(16), subject: d2.messageHash });
    const s = fold(w.b);
    expect(bal(s, K.seller.id)).toEqual({ available: 500, escrow: 0 });
    expect(bal(s, K.buyer.id)).toEqual({ available: 1000, escrow: 0 });
    expect(s.contracts[w.id]?.refunds).toEqual({ sellerToBuyer: 116, buyerToSeller: 0 });
  });

  it('a refund the payer cannot cover moves what it can and records the rest as unpaid', () => {
    const w = settledWorld();
    // A second active contract escrows 606 of the seller's 616, leaving 10 available.
    const d = w.b.dispute(claim(w.id, [w.settlement], w.settleAt + 1000));
    const id2 = propose(
      w.b,
      compliantContract({
        window: { start: EXAMPLE_T0 + 2 * DAY, end: EXAMPLE_T0 + 2 * DAY + 4 * Q },
        nonce: 'ZXNjcm93LWV2ZXJ5dGhpbmc',
        deposits: { seller: 606, buyer: 120 },
        penaltyMinorPerKWh: 151,
      }),
    );
    runValidator(w.b, w.v, EXAMPLE_T0 + DAY);
    w.b.activation(K.hub.id, id2, EXAMPLE_T0 + DAY + 1);
    expect(bal(fold(w.b), K.seller.id)).toEqual({ available: 10, escrow: 606 });
    w.b.appendSigned(
      w.v.rule(
        fold(w.b),
        d.messageHash,
        {
          outcome: 'upheld',
          reasons: [{ code: 'meter-fault', message: 'meter fault' }],
          refund: { from: K.seller.id, to: K.buyer.id, amountMinor: 50 },
        },
        EXAMPLE_T0 + DAY + 2,
      ).compact,
    );
    const s = fold(w.b);
    expect(s.disputes[d.messageHash]?.ruling).toMatchObject({ paidMinor: 10, unpaidMinor: 40 });
    expect(bal(s, K.seller.id)).toEqual({ available: 0, escrow: 606 });
    expect(s.money.unpaidMinor).toBe(40);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'note', code: 'refund-short' });
  });

  it('outside the window, before the settlement, by a stranger, or citing foreign evidence: refused', () => {
    const w = settledWorld();
    const until = w.settleAt + DAY;
    w.b.dispute(claim(w.id, [w.settlement], until + 1));
    expect(lastRefusal(fold(w.b))).toBe('dispute-window-closed');
    w.b.dispute(claim(w.id, [w.settlement], w.settleAt - 1));
    expect(lastRefusal(fold(w.b))).toBe('before-settlement');
    w.b.dispute(claim(w.id, [w.b.entries[0]?.messageHash as string], w.settleAt + 1));
    expect(lastRefusal(fold(w.b))).toBe('unknown-evidence');
    w.b.add('wattproof.dispute.v1', K.seller.id, claim(w.id, [w.settlement], w.settleAt + 1));
    expect(lastRefusal(fold(w.b))).toBe('signer-not-party');
    // At the last instant of the window it is accepted; a second open one by the same party is not.
    w.b.dispute(claim(w.id, [w.settlement], until));
    w.b.dispute({ ...claim(w.id, [w.proof], until), claim: 'again' });
    const s = fold(w.b);
    expect(lastRefusal(s)).toBe('dispute-open');
    expect(Object.keys(s.disputes)).toHaveLength(1);
    // After closing, disputes are refused as closed.
    const open = Object.keys(s.disputes)[0] as string;
    w.b.appendSigned(
      w.v.rule(
        s,
        open,
        { outcome: 'rejected', reasons: [{ code: 'no-fault', message: 'the meter was fine' }] },
        until,
      ).compact,
    );
    w.b.close(K.hub.id, w.id, until);
    w.b.dispute(claim(w.id, [w.settlement], until));
    expect(lastRefusal(fold(w.b))).toBe('contract-closed');
    replayAgrees(w.b);
  });

  it('a dispute on a contract not settled is refused', () => {
    const w = activeWorld();
    w.b.dispute(claim(w.id, [w.b.entries.at(-1)?.messageHash as string], EXAMPLE_T0));
    expect(lastRefusal(fold(w.b))).toBe('not-settled');
  });
});

describe('complaints', () => {
  it('are recorded in the validator’s queue and leave it when decided', () => {
    const v = makeValidator();
    const b = registeredWorld(v);
    const c = b.complaint({
      complainant: K.buyer.id,
      about: K.seller.id,
      text: 'cancels every contract an hour before delivery',
      evidence: [],
      at: EXAMPLE_T0,
    });
    let s = fold(b);
    expect(Object.values(s.complaints).filter((x) => x.status === 'open')).toEqual([
      expect.objectContaining({ hash: c.messageHash, complainant: K.buyer.id, about: K.seller.id }),
    ]);
    b.appendSigned(
      v.decideComplaint(
        s,
        c.messageHash,
        'upheld',
        [{ code: 'pattern', message: 'five cancellations in a week' }],
        EXAMPLE_T0 + 1,
      ).compact,
    );
    s = fold(b);
    expect(s.complaints[c.messageHash]).toMatchObject({
      status: 'upheld',
      decision: { reasons: [{ code: 'pattern' }] },
    });
    expect(() =>
      v.decideComplaint(s, c.messageHash, 'rejected', [{ code: 'x', message: 'again' }], 1),
    ).toThrow(/no open complaint/);
    b.add('wattproof.complaint.v1', K.seller.id, {
      complainant: K.buyer.id,
      about: K.seller.id,
      text: 'forged',
      evidence: [],
      at: 1,
    });
    expect(lastRefusal(fold(b))).toBe('signer-not-complainant');
  });
});
