// The market fold over a log: orders, an auction result and its matches apply and propose their
// contracts; a tampered result or match, a second clearing, a non-hub signer and a match nobody
// owes are refused and change nothing. Continuous matches are recomputed at their log position.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_KEYS } from '../../protocol/messages/examples.js';
import { ORDER_TYP } from '../../protocol/messages/index.js';
import type { BookKey, LedgerOrder } from './book.js';
import { energyOrder, ledgerOrders, Q, T0 } from './example-orders.js';
import { applyMarketEntry, emptyMarketState, type MarketLogEntry } from './fold.js';
import { AUCTION_RESULT_TYP, MARKET_MATCH_TYP } from './messages.js';
import { planAuction, planContinuous } from './plan.js';
import { marketRules } from './rules.js';

const HUB = EXAMPLE_KEYS.hub.id;
const ELEC: BookKey = { region: 'north', product: 'energy', energy: 'electricity' };
const IV = { start: T0, end: T0 + Q };
const GATE = T0 - 300_000;
const json = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function orderEntries(orders: LedgerOrder[]): MarketLogEntry[] {
  return orders.map((lo) => ({
    index: lo.index,
    typ: ORDER_TYP,
    kid: lo.order.participant,
    payload: json(lo.order),
    messageHash: lo.hash,
  }));
}

function hubEntry(index: number, typ: string, payload: unknown, kid = HUB): MarketLogEntry {
  return { index, typ, kid, payload: json(payload), messageHash: `h${index}` };
}

describe('market fold, auction mode', () => {
  const rules = marketRules({ currency: 'EUR' });
  const config = { rules, hubKids: [HUB] };
  const orders = ledgerOrders(
    [
      energyOrder({ who: 's1', side: 'offer', quantityWh: 100, limitMinorPerKWh: 10 }),
      energyOrder({ who: 's2', side: 'offer', quantityWh: 200, limitMinorPerKWh: 15 }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 250, limitMinorPerKWh: 30 }),
    ],
    0,
  );
  const plan = planAuction(orders, ELEC, IV, 2, rules, GATE);

  it('applies orders, the result and each match; each match proposes its contract', () => {
    const s = emptyMarketState();
    for (const e of orderEntries(orders)) expect(applyMarketEntry(s, e, config)).toEqual({ applied: true });
    expect(applyMarketEntry(s, hubEntry(3, AUCTION_RESULT_TYP, plan.result), config)).toEqual({
      applied: true,
    });
    const proposals = plan.matches.map((m, i) =>
      applyMarketEntry(s, hubEntry(4 + i, MARKET_MATCH_TYP, m), config),
    );
    expect(
      proposals.map(
        (p) => p.applied && p.proposal && [p.proposal.id, p.proposal.offerIndex, p.proposal.bidIndex],
      ),
    ).toEqual([
      [plan.matches[0]!.contractId, 0, 2],
      [plan.matches[1]!.contractId, 1, 2],
    ]);
    expect(s.pending).toEqual([]);
    expect(s.notices).toEqual([]);
  });

  it('refuses a tampered result, a tampered match, a second clearing, a non-hub signer and an unowed match', () => {
    const s = emptyMarketState();
    for (const e of orderEntries(orders)) applyMarketEntry(s, e, config);
    const cheap = applyMarketEntry(
      s,
      hubEntry(3, AUCTION_RESULT_TYP, { ...plan.result, volume: 300 }),
      config,
    );
    expect(cheap).toMatchObject({ applied: false, code: 'auction-mismatch' });
    expect(!cheap.applied && 'message' in cheap && cheap.message).toContain('volume: expected 250, got 300');
    expect(
      applyMarketEntry(s, hubEntry(3, AUCTION_RESULT_TYP, plan.result, EXAMPLE_KEYS.validator.id), config),
    ).toMatchObject({
      code: 'not-the-hub',
    });
    expect(applyMarketEntry(s, hubEntry(3, MARKET_MATCH_TYP, plan.matches[0]), config)).toMatchObject({
      code: 'no-pending-auction',
    });
    expect(applyMarketEntry(s, hubEntry(3, AUCTION_RESULT_TYP, plan.result), config)).toEqual({
      applied: true,
    });
    const more = { ...plan.matches[0]!, quantity: plan.matches[0]!.quantity + 1 };
    expect(applyMarketEntry(s, hubEntry(4, MARKET_MATCH_TYP, more), config)).toMatchObject({
      code: 'match-mismatch',
    });
    expect(
      applyMarketEntry(s, hubEntry(5, AUCTION_RESULT_TYP, { ...plan.result, at: GATE + 1 }), config),
    ).toMatchObject({
      code: 'matches-pending',
    });
    for (const [i, m] of plan.matches.entries())
      expect(applyMarketEntry(s, hubEntry(6 + i, MARKET_MATCH_TYP, m), config)).toMatchObject({
        applied: true,
      });
    expect(applyMarketEntry(s, hubEntry(9, AUCTION_RESULT_TYP, plan.result), config)).toMatchObject({
      code: 'already-cleared',
    });
    expect(applyMarketEntry(s, hubEntry(10, MARKET_MATCH_TYP, plan.matches[0]), config)).toMatchObject({
      code: 'duplicate-match',
    });
    expect(s.contracts.size).toBe(2);
  });

  it('refuses a result with other rules, a lastIndex not before it, or another gate', () => {
    const s = emptyMarketState();
    for (const e of orderEntries(orders)) applyMarketEntry(s, e, config);
    const other = { ...config, rules: marketRules({ currency: 'EUR', energyPenaltyPercent: 50 }) };
    expect(applyMarketEntry(s, hubEntry(3, AUCTION_RESULT_TYP, plan.result), other)).toMatchObject({
      code: 'rules-mismatch',
    });
    expect(applyMarketEntry(s, hubEntry(2, AUCTION_RESULT_TYP, plan.result), config)).toMatchObject({
      code: 'last-index-not-before',
    });
    expect(
      applyMarketEntry(s, hubEntry(3, AUCTION_RESULT_TYP, { ...plan.result, gateAt: GATE - 1 }), config),
    ).toMatchObject({ code: 'gate-mismatch' });
  });

  it('refuses an order signed by someone else and the same order twice', () => {
    const s = emptyMarketState();
    const [e] = orderEntries(orders);
    expect(applyMarketEntry(s, { ...e!, kid: EXAMPLE_KEYS.buyer.id }, config)).toMatchObject({
      code: 'signer-not-participant',
    });
    expect(applyMarketEntry(s, e!, config)).toEqual({ applied: true });
    expect(applyMarketEntry(s, { ...e!, index: 5 }, config)).toMatchObject({ code: 'duplicate-order' });
    expect(applyMarketEntry(s, { ...e!, typ: 'wattproof.other.v1' }, config)).toEqual({
      applied: false,
      code: 'not-a-market-entry',
    });
  });
});

describe('market fold, continuous mode', () => {
  it('recomputes each continuous match at its place in the log', () => {
    const rules = marketRules({ currency: 'EUR', mode: 'continuous' });
    const config = { rules, hubKids: [HUB] };
    // log: 0 offer, 1 bid (→ match at 2), 3 bid (→ match at 4)
    const [o, b1, b2] = [
      energyOrder({ who: 's1', side: 'offer', quantityWh: 300, limitMinorPerKWh: 14, createdAt: GATE - 30 }),
      energyOrder({ who: 'b1', side: 'bid', quantityWh: 200, limitMinorPerKWh: 22, createdAt: GATE - 20 }),
      energyOrder({ who: 'b2', side: 'bid', quantityWh: 200, limitMinorPerKWh: 16, createdAt: GATE - 10 }),
    ];
    const lo = [...ledgerOrders([o!, b1!], 0), ...ledgerOrders([b2!], 3)];
    const plan = planContinuous(lo, ELEC, IV, 3, rules);
    expect(plan.causedBy).toEqual([1, 3]);
    const s = emptyMarketState();
    const entries = orderEntries(lo);
    applyMarketEntry(s, entries[0]!, config);
    applyMarketEntry(s, entries[1]!, config);
    // the second trade cannot be recorded before the order that causes it
    expect(applyMarketEntry(s, hubEntry(2, MARKET_MATCH_TYP, plan.matches[1]), config)).toMatchObject({
      code: 'match-mismatch',
    });
    expect(applyMarketEntry(s, hubEntry(2, MARKET_MATCH_TYP, plan.matches[0]), config)).toMatchObject({
      applied: true,
    });
    applyMarketEntry(s, entries[2]!, config);
    const forged = { ...plan.matches[1]!, priceMinor: 16 };
    expect(applyMarketEntry(s, hubEntry(4, MARKET_MATCH_TYP, forged), config)).toMatchObject({
      code: 'match-mismatch',
    });
    expect(applyMarketEntry(s, hubEntry(5, MARKET_MATCH_TYP, plan.matches[1]), config)).toMatchObject({
      applied: true,
    });
    expect(applyMarketEntry(s, hubEntry(6, AUCTION_RESULT_TYP, {}), config)).toMatchObject({
      code: 'wrong-mode',
    });
  });
});
