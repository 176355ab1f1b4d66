// `wattproof-hub verify` folds market matches too: on a real ledger file (SQLite, Merkle tree,
// signed checkpoints), a match whose contract follows from its two signed orders passes, and a
// match the hub signed correctly but that the orders do not authorise fails, naming the entry.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { decision, K, newBuilder } from '../hub/contracts/scenario.js';
import { Ledger } from '../hub/ledger/ledger.js';
import type { LedgerOrder } from '../hub/markets/book.js';
import { marketContractId } from '../hub/markets/contracts.js';
import { MARKET_MATCH_TYP, type MarketMatch } from '../hub/markets/messages.js';
import { planAuction } from '../hub/markets/plan.js';
import { marketRules } from '../hub/markets/rules.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { decodeJwsUnverified } from '../protocol/index.js';
import { EXAMPLE_T0 } from '../protocol/messages/examples.js';
import { type EnergyOrder, ORDER_TYP } from '../protocol/messages/index.js';

const Q = 900_000;
const T0 = EXAMPLE_T0;
const rules = marketRules({ currency: 'EUR' });
const GATE = T0 - rules.gateClosureLeadMs;

function ledgerFileOf(compacts: string[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wattproof-market-verify-')), 'ledger.db');
  const db = new Database(file);
  const ledger = new Ledger(db, {
    signer: {
      origin: 'example.wattproof.org/ledger',
      secretKey: K.hub.secretKey,
      publicKey: K.hub.publicKey,
    },
  });
  ledger.append(
    compacts.map((jws) => {
      const d = decodeJwsUnverified(jws);
      if (!d) throw new Error('undecodable entry');
      return { jws, typ: d.header.typ, kid: d.header.kid, gw: null, seq: null, receivedMs: 0 };
    }),
  );
  ledger.checkpoint();
  db.close();
  return file;
}

/** Registered, funded parties and one offer and one bid, signed; the auction's match. */
function world() {
  const b = newBuilder(true);
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
  b.application(K.seller, { role: 'producer', gateways: [K.gatewayA.id], ...app });
  b.application(K.buyer, { role: 'household', gateways: [K.gatewayB.id], ...app });
  b.decision(K.validator.id, decision('registration', K.seller.id, 'approved', t + 1));
  b.decision(K.validator.id, decision('registration', K.buyer.id, 'approved', t + 1));
  b.credit(K.hub.id, K.seller.id, 500, t + 2);
  b.credit(K.hub.id, K.buyer.id, 1000, t + 2);
  const common = {
    product: 'energy' as const,
    region: 'north',
    currency: 'EUR',
    settlementPeriodMs: Q,
    window: { start: T0, end: T0 + Q },
    expires: T0,
    createdAt: T0 - 3_600_000,
    energy: 'electricity' as const,
  };
  const post = (o: EnergyOrder): LedgerOrder => {
    const e = b.add(ORDER_TYP, o.participant, o);
    return { order: o, hash: e.messageHash, index: e.index };
  };
  const offer = post({
    ...common,
    participant: K.seller.id,
    side: 'offer',
    deliveryPoints: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
    nonce: 'dmVyaWZ5LW9mZmVyLTAwMQ',
    quantityWh: 1000,
    limitMinorPerKWh: 20,
  });
  const bid = post({
    ...common,
    participant: K.buyer.id,
    side: 'bid',
    deliveryPoints: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
    nonce: 'dmVyaWZ5LWJpZC0wMDAwMQ',
    quantityWh: 800,
    limitMinorPerKWh: 30,
  });
  const key = { region: 'north', product: 'energy', energy: 'electricity' } as const;
  const match = planAuction([offer, bid], key, { start: T0, end: T0 + Q }, bid.index, rules, GATE)
    .matches[0] as MarketMatch;
  return { b, match };
}

describe('wattproof-hub verify: market matches', () => {
  it('passes a market contract that follows from its orders, reviewed and activated', () => {
    const { b, match } = world();
    b.add(MARKET_MATCH_TYP, K.hub.id, match);
    b.decision(K.validator.id, decision('contract-review', match.contractId, 'approved', GATE));
    b.activation(K.hub.id, match.contractId, GATE + 1);
    const report = verifyLedgerFile(ledgerFileOf(b.compacts), { validatorKeys: [K.validator.publicKey] });
    expect(report.failure, JSON.stringify(report.failure)).toBeUndefined();
    expect(report.state).toMatchObject({ participants: 2, contracts: 1 });
  });

  it('fails at a hub-signed match the orders do not authorise, naming the entry and why', () => {
    const { b, match } = world();
    const forged = JSON.parse(JSON.stringify(match)) as MarketMatch;
    forged.priceMinor = 35; // above the bid's limit of 30
    if (forged.contract.product === 'energy') forged.contract.priceMinorPerKWh = 35;
    forged.contractId = marketContractId(forged.contract);
    const e = b.add(MARKET_MATCH_TYP, K.hub.id, forged);
    const report = verifyLedgerFile(ledgerFileOf(b.compacts), { validatorKeys: [K.validator.publicKey] });
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ where: 'entry', reason: 'state', index: e.index });
    expect(report.failure?.detail).toContain('price-outside-limits');
  });
});
