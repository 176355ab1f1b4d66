// Market-made contracts in the contracts fold: a match entry creates the contract as proposed,
// authorised by its two orders, and only when the contract follows from them; a flexibility
// contract is activated, collects the hub's dispatch command and the gateway's answer, and settles
// by the flexibility rules to balances computed by hand (docs/markets.md).
import { describe, expect, it } from 'vitest';
import { b64url, sha256 } from '../../protocol/index.js';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import {
  CONTRACT_TYP,
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  type EnergyOrder,
  type FlexibilityOrder,
  ORDER_TYP,
} from '../../protocol/messages/index.js';
import { foldLog, type LedgerState, planSettlement } from '../contracts/fold.js';
import type { LogBuilder } from '../contracts/log-builder.js';
import { decision, K, newBuilder, SCENARIO_CONFIG } from '../contracts/scenario.js';
import type { BookKey, LedgerOrder } from './book.js';
import { marketContractId } from './contracts.js';
import { MARKET_MATCH_TYP, type MarketMatch } from './messages.js';
import { planAuction, planContinuous } from './plan.js';
import { marketRules } from './rules.js';

const Q = 900_000;
const T0 = EXAMPLE_T0;
const rules = marketRules({ currency: 'EUR' });
const GATE = T0 - rules.gateClosureLeadMs;

/** Both households registered and funded (seller 500, buyer 1000), as in the contracts scenario. */
function world(): LogBuilder {
  const b = newBuilder();
  const t = T0 - 10 * 86_400_000;
  b.binding(K.hub.id, K.gatewayA, K.seller.id, t);
  b.binding(K.hub.id, K.gatewayB, K.buyer.id, t);
  const app = {
    energies: ['electricity' as const],
    region: 'north',
    gridNode: 'bus-3',
    capacityW: 10_000,
    at: t,
  };
  b.application(K.seller, { role: 'storage', gateways: [K.gatewayA.id], ...app });
  b.application(K.buyer, { role: 'household', gateways: [K.gatewayB.id], ...app });
  b.decision(K.validator.id, decision('registration', K.seller.id, 'approved', t + 1));
  b.decision(K.validator.id, decision('registration', K.buyer.id, 'approved', t + 1));
  b.credit(K.hub.id, K.seller.id, 500, t + 2);
  b.credit(K.hub.id, K.buyer.id, 1000, t + 2);
  return b;
}

const common = {
  region: 'north',
  currency: 'EUR',
  settlementPeriodMs: Q,
  window: { start: T0, end: T0 + Q },
  expires: T0,
  createdAt: T0 - 3_600_000,
  energy: 'electricity' as const,
};

function post(b: LogBuilder, o: EnergyOrder | FlexibilityOrder): LedgerOrder {
  const e = b.add(ORDER_TYP, o.participant, o);
  return { order: o, hash: e.messageHash, index: e.index };
}

function energyOrders(b: LogBuilder) {
  const offer = post(b, {
    ...common,
    product: 'energy',
    participant: K.seller.id,
    side: 'offer',
    deliveryPoints: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
    nonce: 'b2ZmZXItZW5lcmd5LTAwMQ',
    quantityWh: 1000,
    limitMinorPerKWh: 20,
  });
  const bid = post(b, {
    ...common,
    product: 'energy',
    participant: K.buyer.id,
    side: 'bid',
    deliveryPoints: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
    nonce: 'YmlkLWVuZXJneS0wMDAwMQ',
    quantityWh: 800,
    limitMinorPerKWh: 30,
  });
  return { offer, bid };
}

const ENERGY: BookKey = { region: 'north', product: 'energy', energy: 'electricity' };
const refusals = (s: LedgerState) => s.notices.filter((n) => n.kind === 'refused').map((n) => n.code);

/** A match with its contract changed by `edit` (and the id made consistent again). */
function altered(m: MarketMatch, edit: (m: MarketMatch) => void): MarketMatch {
  const copy = JSON.parse(JSON.stringify(m)) as MarketMatch;
  edit(copy);
  copy.contractId = marketContractId(copy.contract);
  return copy;
}

describe('market matches in the contracts fold', () => {
  it('a match creates the contract as proposed, with the orders for signatures; the review and activation follow', () => {
    const b = world();
    const { offer, bid } = energyOrders(b);
    const plan = planAuction([offer, bid], ENERGY, { start: T0, end: T0 + Q }, bid.index, rules, GATE);
    const m = plan.matches[0] as MarketMatch;
    const matchEntry = b.add(MARKET_MATCH_TYP, K.hub.id, m);
    let s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual([]);
    const rec = s.contracts[m.contractId];
    expect(rec).toMatchObject({
      status: 'proposed',
      signatures: { seller: offer.index, buyer: bid.index },
      market: {
        offer: offer.hash,
        bid: bid.hash,
        match: matchEntry.messageHash,
        matchIndex: matchEntry.index,
      },
      history: [{ index: matchEntry.index, status: 'proposed' }],
    });
    expect(s.orders[offer.hash]?.filled).toEqual({ [String(T0)]: 800 });
    // A party's signature over the same payload is refused: the contract exists, authorised already.
    b.add(CONTRACT_TYP, K.seller.id, m.contract);
    b.decision(K.validator.id, decision('contract-review', m.contractId, 'approved', GATE));
    b.activation(K.hub.id, m.contractId, GATE + 1);
    s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual(['market-contract']);
    expect(s.contracts[m.contractId]?.status).toBe('active');
    expect(s.money.accounts[K.seller.id]).toEqual({ available: 484, escrow: 16 });
  });

  it('a continuous trade makes its contract the same way, created at the market clock', () => {
    const b = world();
    const { offer, bid } = energyOrders(b);
    const cont = marketRules({ currency: 'EUR', mode: 'continuous' });
    const plan = planContinuous([offer, bid], ENERGY, { start: T0, end: T0 + Q }, bid.index, cont);
    const m = plan.matches[0] as MarketMatch;
    // The resting offer's limit is the trade price; the clock is the later order's createdAt.
    expect(m).toMatchObject({ mode: 'continuous', quantity: 800, priceMinor: 20 });
    b.add(MARKET_MATCH_TYP, K.hub.id, m);
    const s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual([]);
    expect(s.contracts[m.contractId]).toMatchObject({
      status: 'proposed',
      contract: { createdAt: bid.order.createdAt },
    });
  });

  it('refuses a match the orders do not authorise, naming why', () => {
    const b = world();
    const { offer, bid } = energyOrders(b);
    const m = planAuction([offer, bid], ENERGY, { start: T0, end: T0 + Q }, bid.index, rules, GATE)
      .matches[0] as MarketMatch;
    b.add(MARKET_MATCH_TYP, K.seller.id, m); // not the hub
    b.add(MARKET_MATCH_TYP, K.hub.id, { ...m, contractId: `ct-${'A'.repeat(43)}` });
    b.add(MARKET_MATCH_TYP, K.hub.id, { ...m, offer: b64url.encode(sha256('no such order')) });
    b.add(
      MARKET_MATCH_TYP,
      K.hub.id,
      altered(m, (x) => {
        x.priceMinor = 31;
        if (x.contract.product === 'energy') x.contract.priceMinorPerKWh = 31;
      }),
    );
    b.add(
      MARKET_MATCH_TYP,
      K.hub.id,
      altered(m, (x) => {
        x.contract.deliveryPoints.buyer = [{ gw: K.gatewayA.id, meter: 'other' }];
      }),
    );
    b.add(
      MARKET_MATCH_TYP,
      K.hub.id,
      altered(m, (x) => {
        x.contract.createdAt = offer.order.createdAt - 1;
      }),
    );
    b.add(MARKET_MATCH_TYP, K.hub.id, m);
    // The bid stands for 800 Wh in the interval; the first match took them all.
    b.add(
      MARKET_MATCH_TYP,
      K.hub.id,
      altered(m, (x) => {
        x.quantity = 1;
        if (x.contract.product === 'energy') x.contract.quantity.wh = 1;
      }),
    );
    const s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual([
      'not-the-hub',
      'contract-id-mismatch',
      'unknown-order',
      'price-outside-limits',
      'order-terms',
      'order-not-standing',
      'quantity-above-order',
    ]);
    expect(Object.keys(s.contracts)).toEqual([m.contractId]);
  });

  it('a flexibility contract activates, records the dispatch and its answer, and settles by the flexibility rules', () => {
    const b = world();
    const flex = { ...common, product: 'flexibility' as const, direction: 'discharge' as const };
    const offer = post(b, {
      ...flex,
      participant: K.seller.id,
      side: 'offer',
      deliveryPoints: [{ gw: K.gatewayA.id, meter: 'battery' }],
      nonce: 'b2ZmZXItZmxleC0wMDAwMQ',
      powerW: 3000,
      limitMinorPerMWh: 10_000,
    });
    const bid = post(b, {
      ...flex,
      participant: K.buyer.id,
      side: 'bid',
      deliveryPoints: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
      nonce: 'YmlkLWZsZXgtMDAwMDAwMQ',
      powerW: 3000,
      limitMinorPerMWh: 10_000,
    });
    const key: BookKey = { region: 'north', product: 'flexibility', direction: 'discharge' };
    const m = planAuction([offer, bid], key, { start: T0, end: T0 + Q }, bid.index, rules, GATE)
      .matches[0] as MarketMatch;
    // availability floor(3000 W × 10 000 /MW·h × 0.25 h / 10⁶) = floor(7.5) = 7; E = 750 Wh;
    // deposits: seller ceil(750 × 60 / 1000) = 45, buyer 7 + ceil(750 × 30 / 1000) = 30.
    expect(m.contract).toMatchObject({
      maxDischargeW: 3000,
      maxChargeW: 0,
      availabilityMinor: 7,
      deposits: { seller: 45, buyer: 30 },
    });
    b.add(MARKET_MATCH_TYP, K.hub.id, m);
    b.decision(K.validator.id, decision('contract-review', m.contractId, 'approved', GATE));
    b.activation(K.hub.id, m.contractId, GATE + 1);
    // The hub calls for +2000 W over the whole interval; the gateway applies it.
    const cmd = b.add(DISPATCH_COMMAND_TYP, K.hub.id, {
      contract: m.contractId,
      gw: K.gatewayA.id,
      setpointW: 2000,
      start: T0,
      end: T0 + Q,
      expires: T0 + Q,
      nonce: 'ZGlzcGF0Y2gtY29tbWFuZDE',
      issuedAt: T0 - 60_000,
    });
    b.add(DISPATCH_COMMAND_TYP, K.seller.id, { contract: m.contractId }); // not the hub
    b.add(DISPATCH_RESPONSE_TYP, K.gatewayA.id, {
      gw: K.gatewayA.id,
      seq: 0,
      prev: null,
      command: cmd.messageHash,
      contract: m.contractId,
      outcome: 'applied',
      appliedW: 2000,
      measuredW: 1980,
      at: T0 + 1000,
    });
    // The battery's meter exports 400 Wh in the interval.
    b.proof(K.gatewayA.id, 'battery', T0, Q, { importWh: 0, exportWh: 400 }, { importWh: 0, exportWh: 0 });
    let s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual(['not-the-hub']);
    const rec = s.contracts[m.contractId];
    expect(rec?.status).toBe('delivering');
    expect(rec?.dispatches?.map((d) => d.response)).toEqual(['applied']);
    expect(s.money.accounts[K.seller.id]).toEqual({ available: 455, escrow: 45 });
    expect(s.money.accounts[K.buyer.id]).toEqual({ available: 970, escrow: 30 });
    // called 2000 W × 15 min = 500 Wh; delivered min(500, 400) = 400; shortfall 100.
    // availability 7 (the call was answered); response floor(400 × 30 / 1000) = 12;
    // penalty min(floor(100 × 60 / 1000), 45) = 6. Payment 7 + 12 = 19 from the buyer's escrow.
    const plan = planSettlement(s, m.contractId, T0 + Q + 60_000);
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.payload).toMatchObject({
      outcome: 'partial',
      contractedWh: 500,
      sellerExportWh: 400,
      buyerImportWh: 0,
      deliveredWh: 400,
      shortfallWh: 100,
      paymentMinor: 19,
      penaltyMinor: 6,
      unpaidMinor: 0,
      released: { seller: 39, buyer: 11 },
      proofCount: 1,
    });
    b.settlement(K.hub.id, plan.payload);
    s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(refusals(s)).toEqual(['not-the-hub']);
    expect(s.contracts[m.contractId]?.status).toBe('settled');
    // seller 455 + 19 + 39 = 513; buyer 970 + 11 + 6 = 987; Σ 1500 = Σ credits.
    expect(s.money.accounts[K.seller.id]).toEqual({ available: 513, escrow: 0 });
    expect(s.money.accounts[K.buyer.id]).toEqual({ available: 987, escrow: 0 });
  });
});
