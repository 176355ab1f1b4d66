// Random logs: whatever entries arrive, in whatever order, the fold never throws, never makes a
// bucket negative, conserves money (Σ available + escrow = Σ credits), keeps each account's escrow
// equal to what its contracts hold, and folds to the same state again on replay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleKey } from '../../protocol/messages/examples.js';
import type { MeterProofFlag } from '../../protocol/messages/index.js';
import { totalHeld } from './accounts.js';
import { applyEntry, emptyState, foldLog, type LedgerState, planSettlement, stateHash } from './fold.js';
import { LogBuilder } from './log-builder.js';
import { contractIdFromEntry, K, Q, SCENARIO_CONFIG, scenarioContract } from './scenario.js';

const CFG = SCENARIO_CONFIG;
const PARTIES = [K.seller, K.buyer, exampleKey('third', 'pt')];
const GATEWAYS = [K.gatewayA, K.gatewayB];
const FLAGS: MeterProofFlag[] = ['clock-unsynchronised', 'counter-reset', 'device-error', 'gap'];

const party = fc.integer({ min: 0, max: PARTIES.length - 1 });
const contractRef = fc.integer({ min: 0, max: 3 });

const command = fc.oneof(
  fc.record({ k: fc.constant('apply' as const), p: party, gw: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ k: fc.constant('decide' as const), p: party, approve: fc.boolean() }),
  fc.record({ k: fc.constant('credit' as const), p: party, amount: fc.integer({ min: 1, max: 2000 }) }),
  fc.record({
    k: fc.constant('contract' as const),
    seller: party,
    buyer: party,
    sellerDeposit: fc.integer({ min: 0, max: 800 }),
    buyerDeposit: fc.integer({ min: 0, max: 800 }),
    wh: fc.integer({ min: 1, max: 3000 }),
    price: fc.integer({ min: 0, max: 500 }),
    penalty: fc.integer({ min: 0, max: 500 }),
    perWindow: fc.boolean(),
    onlyOne: fc.boolean(),
  }),
  fc.record({ k: fc.constant('review' as const), c: contractRef, approve: fc.boolean() }),
  fc.record({ k: fc.constant('activate' as const), c: contractRef }),
  fc.record({
    k: fc.constant('proof' as const),
    gw: fc.integer({ min: 0, max: 1 }),
    slot: fc.integer({ min: -1, max: 4 }),
    importWh: fc.integer({ min: 0, max: 2500 }),
    exportWh: fc.integer({ min: 0, max: 2500 }),
    flag: fc.option(fc.constantFrom(...FLAGS), { nil: undefined }),
  }),
  fc.record({ k: fc.constant('settle' as const), c: contractRef, tamper: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ k: fc.constant('cancel' as const), c: contractRef, p: party }),
  fc.record({ k: fc.constant('close' as const), c: contractRef }),
  fc.record({ k: fc.constant('stop' as const), c: contractRef, slot: fc.integer({ min: -1, max: 5 }) }),
  fc.record({
    k: fc.constant('deregister' as const),
    p: party,
    request: fc.boolean(),
    slot: fc.integer({ min: -1, max: 5 }),
  }),
  fc.record({
    k: fc.constant('dispute' as const),
    c: contractRef,
    p: party,
    late: fc.boolean(),
  }),
  fc.record({
    k: fc.constant('rule' as const),
    d: fc.integer({ min: 0, max: 3 }),
    upheld: fc.boolean(),
    sellerPays: fc.boolean(),
    amount: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({
    k: fc.constant('garbage' as const),
    typ: fc.constantFrom(
      'wattproof.operator-credit.v1',
      'wattproof.settlement.v1',
      'wattproof.contract.v1',
      'wattproof.meter-proof.v1',
      'wattproof.contract-activation.v1',
      'wattproof.unknown.v1',
    ),
    payload: fc.jsonValue(),
  }),
);

type Command = typeof command extends fc.Arbitrary<infer T> ? T : never;

function checkInvariants(s: LedgerState): void {
  const escrowByParty = new Map<string, number>();
  for (const rec of Object.values(s.contracts)) {
    escrowByParty.set(rec.contract.seller, (escrowByParty.get(rec.contract.seller) ?? 0) + rec.escrow.seller);
    escrowByParty.set(rec.contract.buyer, (escrowByParty.get(rec.contract.buyer) ?? 0) + rec.escrow.buyer);
  }
  for (const [id, a] of Object.entries(s.money.accounts)) {
    expect(a.available).toBeGreaterThanOrEqual(0);
    expect(a.escrow).toBeGreaterThanOrEqual(0);
    expect(a.escrow).toBe(escrowByParty.get(id) ?? 0);
  }
  expect(totalHeld(s.money)).toBe(s.money.creditedMinor);
  for (const rec of Object.values(s.contracts)) {
    // Refunds never exceed what the settlement moved the other way.
    const p = rec.settlement?.payload;
    expect(rec.refunds.sellerToBuyer).toBeLessThanOrEqual(p?.paymentMinor ?? 0);
    expect(rec.refunds.buyerToSeller).toBeLessThanOrEqual(p?.penaltyMinor ?? 0);
    // A stopped or cancelled contract holds nothing.
    if (rec.status === 'stopped' || rec.status === 'cancelled')
      expect(rec.escrow).toEqual({ seller: 0, buyer: 0 });
  }
}

/** How often each new validator effect applied, over all runs (so the test shows it exercised them). */
const tally: Record<string, number> = {};

function run(commands: Command[]): void {
  const b = new LogBuilder();
  const state = emptyState();
  const contracts: string[] = [];
  const disputes: string[] = [];
  const counters = GATEWAYS.map(() => ({ importWh: 0, exportWh: 0 }));
  const fold = () => {
    for (let e = b.entries[state.size]; e !== undefined; e = b.entries[state.size]) {
      const out = applyEntry(state, e, CFG);
      const kind = (e.payload as { kind?: unknown } | null)?.kind;
      const key = typeof kind === 'string' ? kind : e.typ;
      if (out.status === 'applied') tally[key] = (tally[key] ?? 0) + 1;
      checkInvariants(state);
    }
  };
  b.binding(K.hub.id, K.gatewayA, undefined, 1);
  fold();
  b.binding(K.hub.id, K.gatewayB, undefined, 1);
  fold();
  for (const cmd of commands) {
    switch (cmd.k) {
      case 'apply': {
        const p = PARTIES[cmd.p]!;
        b.application(p, {
          role: 'household',
          energies: ['electricity'],
          region: 'north',
          gridNode: 'bus-1',
          gateways: [GATEWAYS[cmd.gw]!.id],
          capacityW: 5000,
          at: 1,
        });
        break;
      }
      case 'decide':
        b.decision(K.validator.id, {
          kind: 'registration',
          subject: PARTIES[cmd.p]!.id,
          outcome: cmd.approve ? 'approved' : 'refused',
          reasons: cmd.approve ? [] : [{ code: 'no', message: 'no' }],
          inputsHash: 'A'.repeat(43),
          at: 2,
        });
        break;
      case 'credit':
        b.credit(K.hub.id, PARTIES[cmd.p]!.id, cmd.amount, 3);
        break;
      case 'contract': {
        const c = scenarioContract({
          seller: PARTIES[cmd.seller]!.id,
          buyer: PARTIES[cmd.buyer]!.id,
          deposits: { seller: cmd.sellerDeposit, buyer: cmd.buyerDeposit },
          quantity: { wh: cmd.wh, per: cmd.perWindow ? 'window' : 'interval' },
          priceMinorPerKWh: cmd.price,
          penaltyMinorPerKWh: cmd.penalty,
          nonce: `bm9uY2Utbm9uY2Utbm9uY2U${contracts.length}`,
        });
        const [first] = b.contract(c, cmd.onlyOne ? ['buyer'] : ['seller', 'buyer']);
        contracts.push(contractIdFromEntry(first?.payload));
        break;
      }
      case 'review': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        b.decision(K.validator.id, {
          kind: 'contract-review',
          subject: id,
          outcome: cmd.approve ? 'approved' : 'refused',
          reasons: cmd.approve ? [] : [{ code: 'no', message: 'no' }],
          inputsHash: 'A'.repeat(43),
          at: 4,
        });
        break;
      }
      case 'activate': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        b.activation(K.hub.id, id, EXAMPLE_T0 - 1000);
        break;
      }
      case 'proof': {
        const gw = GATEWAYS[cmd.gw]!.id;
        const ctr = counters[cmd.gw]!;
        b.proof(gw, 'grid-meter', EXAMPLE_T0 + cmd.slot * Q, Q, cmd, ctr, cmd.flag ? [cmd.flag] : []);
        if (cmd.flag === 'counter-reset') ctr.exportWh = 0; // a reset meter starts again
        break;
      }
      case 'settle': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        const plan = planSettlement(state, id, EXAMPLE_T0 + 5 * Q);
        if (!plan.ok) continue;
        const p = plan.payload;
        b.settlement(K.hub.id, { ...p, paymentMinor: Math.max(0, p.paymentMinor + cmd.tamper) });
        break;
      }
      case 'cancel': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        b.cancellation(PARTIES[cmd.p]!.id, id, EXAMPLE_T0 - 10);
        break;
      }
      case 'close': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        b.close(K.hub.id, id, EXAMPLE_T0 + 1000 * Q);
        break;
      }
      case 'stop': {
        const id = contracts[cmd.c];
        if (id === undefined) continue;
        b.decision(K.validator.id, {
          kind: 'contract-stop',
          subject: id,
          outcome: 'stopped',
          reasons: [{ code: 'price-above-cap', message: 'illegal' }],
          inputsHash: 'A'.repeat(43),
          at: EXAMPLE_T0 + cmd.slot * Q + 1,
        });
        break;
      }
      case 'deregister': {
        const who = PARTIES[cmd.p]!.id;
        if (cmd.request) b.deregistrationRequest(who, EXAMPLE_T0);
        b.decision(K.validator.id, {
          kind: 'deregistration',
          subject: who,
          outcome: 'approved',
          reasons: cmd.request ? [] : [{ code: 'fraud', message: 'fraud' }],
          inputsHash: 'A'.repeat(43),
          at: EXAMPLE_T0 + cmd.slot * Q + 1,
        });
        break;
      }
      case 'dispute': {
        const id = contracts[cmd.c];
        const rec = id === undefined ? undefined : state.contracts[id];
        if (rec?.settlement == null) continue;
        const e = b.dispute({
          contract: rec.id,
          party: PARTIES[cmd.p]!.id,
          claim: 'wrong',
          claimMinor: 5,
          evidence: [rec.entryHashes[0] as string],
          at: rec.settlement.payload.at + (cmd.late ? rec.contract.disputeWindowMs + 1 : 1),
        });
        disputes.push(e.messageHash);
        break;
      }
      case 'rule': {
        // Mostly an open dispute (so rulings apply), sometimes any dispute entry (ruled twice, refused).
        const open = Object.values(state.disputes).filter((x) => x.status === 'open');
        const h = cmd.d === 0 && open.length > 0 ? open[0]?.hash : disputes[cmd.d];
        const d = h === undefined ? undefined : state.disputes[h];
        if (h === undefined || d === undefined) continue;
        const c = state.contracts[d.contract]!.contract;
        b.decision(K.validator.id, {
          kind: 'dispute',
          subject: h,
          outcome: cmd.upheld ? 'upheld' : 'rejected',
          reasons: [{ code: 'ruled', message: 'ruled' }],
          ...(cmd.upheld
            ? {
                refund: cmd.sellerPays
                  ? { from: c.seller, to: c.buyer, amountMinor: cmd.amount }
                  : { from: c.buyer, to: c.seller, amountMinor: cmd.amount },
              }
            : {}),
          inputsHash: 'A'.repeat(43),
          at: EXAMPLE_T0 + 6 * Q,
        });
        break;
      }
      case 'garbage':
        b.add(cmd.typ, K.hub.id, cmd.payload);
        break;
    }
    fold();
  }
  expect(state.size).toBe(b.entries.length);
  expect(stateHash(foldLog(b.entries, CFG))).toBe(stateHash(state));
}

describe('contracts fold properties', () => {
  it('random logs: no throw, no negative bucket, money conserved, replay identical', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (cmds) => run(cmds)),
      { numRuns: 100 },
    );
  });

  it('a log that registers, funds and trades always ends with Σ balances = Σ credits', () => {
    // A biased run: everyone registered and funded first, so contracts really activate and settle.
    const setup: Command[] = [
      ...[0, 1, 2].map((p) => ({ k: 'apply' as const, p, gw: p % 2 })),
      ...[0, 1, 2].map((p) => ({ k: 'decide' as const, p, approve: true })),
      ...[0, 1, 2].map((p) => ({ k: 'credit' as const, p, amount: 2000 })),
    ];
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (cmds) => run([...setup, ...cmds])),
      { numRuns: 100 },
    );
  });

  it('with contracts running: stops, deregistrations, disputes and rulings keep money conserved', () => {
    // Three approved, activated contracts between two parties, then random commands (stops,
    // deregistrations, proofs, settlements, disputes and rulings among them).
    const setup: Command[] = [
      ...[0, 1, 2].map((p) => ({ k: 'apply' as const, p, gw: p % 2 })),
      ...[0, 1, 2].map((p) => ({ k: 'decide' as const, p, approve: true })),
      ...[0, 1, 2].map((p) => ({ k: 'credit' as const, p, amount: 2000 })),
      // Seller 0 (gateway A) and buyer 1 (gateway B): the delivery points of scenarioContract.
      ...[
        [0, 1],
        [0, 1],
        [0, 1],
      ].flatMap(([seller, buyer], c) => [
        {
          k: 'contract' as const,
          seller: seller as number,
          buyer: buyer as number,
          sellerDeposit: 100,
          buyerDeposit: 200,
          wh: 1000,
          price: 29,
          penalty: 20,
          perWindow: c === 2,
          onlyOne: false,
        },
        { k: 'review' as const, c, approve: true },
        { k: 'activate' as const, c },
      ]),
    ];
    const later = fc.oneof(
      { arbitrary: command, weight: 2 },
      {
        arbitrary: fc.record({ k: fc.constant('settle' as const), c: contractRef, tamper: fc.constant(0) }),
        weight: 1,
      },
      {
        arbitrary: fc.record({
          k: fc.constant('dispute' as const),
          c: contractRef,
          p: party,
          late: fc.boolean(),
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({
          k: fc.constant('rule' as const),
          d: fc.integer({ min: 0, max: 1 }),
          upheld: fc.boolean(),
          sellerPays: fc.boolean(),
          amount: fc.integer({ min: 1, max: 300 }),
        }),
        weight: 2,
      },
    );
    for (const k of Object.keys(tally)) delete tally[k];
    fc.assert(
      fc.property(fc.array(later, { minLength: 10, maxLength: 60, size: 'medium' }), (cmds) =>
        run([...setup, { k: 'settle', c: 0, tamper: 0 }, ...cmds]),
      ),
      { numRuns: 100 },
    );
    // The runs did exercise what they are about.
    for (const k of [
      'contract-stop',
      'deregistration',
      'wattproof.settlement.v1',
      'wattproof.dispute.v1',
      'dispute',
    ])
      expect(tally[k] ?? 0, k).toBeGreaterThan(0);
  });
});
