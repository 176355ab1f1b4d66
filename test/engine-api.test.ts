// The engine and its HTTP endpoints on a real SQLite ledger in a temp dir, a real Fastify app
// (inject) and the real hub and validator keys on disk; gateways' proofs are appended as ingest
// appends them (MQTT is exercised by test/contracts-e2e.test.ts). The clock is a variable.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldLog, logEntryFromJws, stateHash } from '../hub/contracts/fold.js';
import { registerEngineApi } from '../hub/engine/api.js';
import { Engine } from '../hub/engine/engine.js';
import { SimpleReviewer } from '../hub/engine/reviewer.js';
import { loadOrCreateValidatorKey } from '../hub/engine/validator-key.js';
import { loadOrCreateHubKey } from '../hub/keys.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { messageHashB64 } from '../protocol/index.js';
import {
  CONTRACT_CANCELLATION_TYP,
  type EnergyContract,
  METER_PROOF_TYP,
  SETTLEMENT_TYP,
  signMessage,
} from '../protocol/messages/index.js';
import {
  type MeteringGateway,
  meteringGateway,
  minuteProofPayload,
  type Party,
  participantApplication,
  party,
  signBothParties,
} from './support/contract-fixtures.js';
import { bindGateways } from './support/hub-fixtures.js';

const TOKEN = 'engine-test-operator-token-0123456789abcdef';
const M = 60_000;
const T0 = Date.UTC(2026, 2, 1, 10, 0);

describe('engine on a real ledger, with its HTTP endpoints', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-engine-'));
  const { key: hubKey } = loadOrCreateHubKey(path.join(dir, 'hub.key'));
  const valFile = path.join(dir, 'validator.key');
  const { key: valKey } = loadOrCreateValidatorKey(valFile);
  const db = new Database(path.join(dir, 'ledger.db'));
  const ledger = new Ledger(db, {
    signer: { origin: 'test/engine', secretKey: hubKey.secretKey, publicKey: hubKey.publicKey },
  });
  let now = T0 - 60 * M;
  const published: { topic: string; payload: string; retain: boolean }[] = [];
  const engine = new Engine({
    ledger,
    hubKey,
    reviewer: new SimpleReviewer(valKey, 'EUR'),
    config: { currency: 'EUR', settlementGraceMs: 2 * M, tickMs: 0 },
    clock: () => now,
    publish: (topic, payload, o) => published.push({ topic, payload, retain: o.retain }),
    log: pino({ level: 'silent' }),
  });
  const app = Fastify();
  const seller = party();
  const buyer = party();
  const gwA = meteringGateway();
  const gwB = meteringGateway();
  const contract: EnergyContract = {
    product: 'energy',
    seller: seller.id,
    buyer: buyer.id,
    energy: 'electricity',
    settlementPeriodMs: M,
    window: { start: T0, end: T0 + 2 * M },
    currency: 'EUR',
    deliveryPoints: { seller: [{ gw: gwA.id, meter: 'grid' }], buyer: [{ gw: gwB.id, meter: 'grid' }] },
    deposits: { seller: 10, buyer: 10 },
    disputeWindowMs: 10 * M,
    nonce: 'ZW5naW5lLXRlc3QtMQ',
    createdAt: T0 - 60 * M,
    quantity: { wh: 100, per: 'interval' },
    priceMinorPerKWh: 40,
    penaltyMinorPerKWh: 30,
  };
  const signed = signBothParties(contract, seller, buyer);
  let contractId = '';

  const post = (url: string, body: unknown, token?: string) =>
    app.inject({
      method: 'POST',
      url,
      payload: body as object,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  function application(p: Party, gw: string, signer = p.secretKey) {
    return participantApplication(p, { gateways: [gw], at: now, signer });
  }

  /** A chained proof of one minute, appended as ingest appends it. */
  function proof(g: MeteringGateway, minute: number, imp: number, exp: number) {
    const jws = signMessage(METER_PROOF_TYP, g.id, minuteProofPayload(g, T0, minute, imp, exp), g.secretKey);
    ledger.append([{ jws, typ: METER_PROOF_TYP, kid: g.id, gw: g.id, seq: g.seq, receivedMs: now }]);
    g.prev = messageHashB64(jws);
    g.seq++;
  }

  beforeAll(async () => {
    bindGateways(ledger, hubKey, [gwA, gwB], now);
    engine.start();
    await registerEngineApi(app, { engine, operatorToken: TOKEN });
    await app.ready();
  });
  afterAll(async () => {
    engine.stop();
    await app.close();
    db.close();
  });

  it('keeps the validator key in a file of mode 0600', () => {
    expect(statSync(valFile).mode & 0o777).toBe(0o600);
    expect(valKey.kid).toMatch(/^val-/);
  });

  it('applications: self-signed ones are appended and approved by the validator; forged or malformed ones are refused and not appended', async () => {
    const size = ledger.size;
    const forged = await post('/v1/participants', { jws: application(seller, gwA.id, buyer.secretKey) });
    expect(forged.statusCode).toBe(400);
    expect(forged.json()).toMatchObject({ error: 'bad-signature' });
    expect((await post('/v1/participants', { jwz: 'x' })).json()).toMatchObject({
      error: 'bad-request',
      detail: expect.stringContaining('jws'),
    });
    expect((await post('/v1/participants', { jws: 'not.a.jws' })).statusCode).toBe(400);
    expect(ledger.size).toBe(size);

    const a = await post('/v1/participants', { jws: application(seller, gwA.id) });
    expect(a.statusCode, a.body).toBe(201);
    expect(a.json().receipt).toMatchObject({
      status: 'appended',
      index: size,
      outcome: { status: 'applied' },
    });
    const again = await post('/v1/participants', { jws: ledger.entry(size)?.jws });
    expect(again.statusCode).toBe(200);
    expect(again.json().receipt).toMatchObject({ status: 'duplicate', index: size });
    expect((await post('/v1/participants', { jws: application(buyer, gwB.id) })).statusCode).toBe(201);
    engine.tick();
    for (const p of [seller, buyer]) {
      const r = await app.inject({ method: 'GET', url: `/v1/participants/${p.id}` });
      expect(r.json().participant).toMatchObject({ status: 'approved' });
    }
    // Decisions are signed by the validator key.
    const decisions = ledger.range(0, ledger.size).filter((e) => e.kid === valKey.kid);
    expect(decisions).toHaveLength(2);
  });

  it('credits need the operator token; bodies are checked field by field', async () => {
    expect(
      (await post('/v1/credits', { account: seller.id, amountMinor: 100, reference: 'r1' })).statusCode,
    ).toBe(401);
    expect(
      (await post('/v1/credits', { account: seller.id, amountMinor: 100, reference: 'r1' }, `${TOKEN}x`))
        .statusCode,
    ).toBe(401);
    const bad = await post('/v1/credits', { account: seller.id, amountMinor: -1, reference: 'r1' }, TOKEN);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('amountMinor');
    const ok = await post(
      '/v1/credits',
      { account: seller.id, amountMinor: 100, reference: 'bank-1' },
      TOKEN,
    );
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().account).toEqual({ available: 100, escrow: 0 });
    expect(
      (await post('/v1/credits', { account: buyer.id, amountMinor: 200, reference: 'bank-2' }, TOKEN))
        .statusCode,
    ).toBe(201);
  });

  it('a contract signed by both is appended as two leaves, approved, activated and sent to both gateways as JWS JSON', async () => {
    const tampered = { ...signed, signatures: [signed.signatures[0], signed.signatures[0]] };
    const t = await post('/v1/contracts', tampered);
    expect(t.statusCode).toBe(403);
    expect(t.json().error).toBe('signer-not-party');
    const r = await post('/v1/contracts', signed);
    expect(r.statusCode, r.body).toBe(201);
    const body = r.json() as { contract: string; receipts: { status: string }[] };
    expect(body.receipts.map((x) => x.status)).toEqual(['appended', 'appended']);
    contractId = body.contract;
    engine.tick();
    const got = await app.inject({ method: 'GET', url: `/v1/contracts/${contractId}` });
    expect(got.json().contract.status).toBe('active');
    expect(got.json().signed).toEqual(signed);
    const sent = published.filter((p) => p.topic.endsWith('/cmd/contract'));
    expect(sent.map((p) => p.topic).sort()).toEqual(
      [`wattproof/v1/gw/${gwA.id}/cmd/contract`, `wattproof/v1/gw/${gwB.id}/cmd/contract`].sort(),
    );
    expect(JSON.parse(sent[0]?.payload ?? '')).toEqual(signed);
    expect((await app.inject({ method: 'GET', url: `/v1/accounts/${seller.id}` })).json()).toMatchObject({
      available: 90,
      escrow: 10,
    });
    // The same contract again: the same leaves, nothing new.
    const dup = await post('/v1/contracts', signed);
    expect(dup.statusCode).toBe(200);
    expect(dup.json().contract).toBe(contractId);
  });

  it('a cancellation after the window started is refused by the fold and kept as evidence (422)', async () => {
    now = T0 + 30_000;
    const jws = signMessage(
      CONTRACT_CANCELLATION_TYP,
      seller.id,
      { contract: contractId, party: seller.id, at: now },
      seller.secretKey,
    );
    expect((await post(`/v1/contracts/ct-other/cancel`, { jws })).json().error).toBe('contract-mismatch');
    const r = await post(`/v1/contracts/${contractId}/cancel`, { jws });
    expect(r.statusCode).toBe(422);
    expect(r.json().receipt.outcome).toMatchObject({ status: 'refused', code: 'window-started' });
  });

  it('settles once after window + grace, to the hand-computed balances; closes after the dispute window; re-folding gives the same state', async () => {
    // Minute 0: seller exports 120, buyer imports 150 → matched min(120,150)=120, capped at 100.
    // Minute 1: seller exports 40, buyer imports 150 → 40.
    proof(gwA, 0, 0, 120);
    proof(gwB, 0, 150, 0);
    proof(gwA, 1, 0, 40);
    proof(gwB, 1, 150, 0);
    now = T0 + 2 * M + 2 * M - 1; // one ms before window end + grace
    engine.tick();
    expect(engine.ledgerState.contracts[contractId]?.status).toBe('delivering');
    now += 1;
    engine.tick();
    engine.tick();
    const rec = engine.ledgerState.contracts[contractId];
    expect(rec?.status).toBe('settled');
    // delivered = 100 + 40 = 140 of 200 Wh; payment = floor(140 × 40 / 1000) = 5;
    // penalty = min(floor(60 × 30 / 1000), 10) = 1. Seller 90 + 5 + (10 − 1) = 104; buyer 190 + (10 − 5) + 1 = 196.
    expect(rec?.settlement?.payload).toMatchObject({
      outcome: 'partial',
      deliveredWh: 140,
      paymentMinor: 5,
      penaltyMinor: 1,
    });
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 104, escrow: 0 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 196, escrow: 0 });
    const settlements = () => ledger.range(0, ledger.size).filter((e) => e.typ === SETTLEMENT_TYP);
    expect(settlements()).toHaveLength(1);
    // A second settlement entry (another hub attempt) is refused by the fold and moves nothing.
    const again = signMessage(
      SETTLEMENT_TYP,
      hubKey.hubId,
      { ...rec?.settlement?.payload, at: now + 5 } as never,
      hubKey.secretKey,
    );
    ledger.append([
      { jws: again, typ: SETTLEMENT_TYP, kid: hubKey.hubId, gw: null, seq: null, receivedMs: now },
    ]);
    engine.tick();
    expect(engine.ledgerState.notices.at(-1)).toMatchObject({
      code: 'already-settled',
      contract: contractId,
    });
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 104, escrow: 0 });

    now += 10 * M;
    engine.tick();
    expect(engine.ledgerState.contracts[contractId]?.status).toBe('closed');
    const list = await app.inject({ method: 'GET', url: '/v1/contracts?status=closed' });
    expect(list.json().contracts.map((c: { id: string }) => c.id)).toEqual([contractId]);
    expect((await app.inject({ method: 'GET', url: '/v1/contracts?status=bogus' })).statusCode).toBe(400);

    const refolded = foldLog(
      ledger
        .range(0, ledger.size)
        .map((e) => logEntryFromJws(e.index, e.jws) as NonNullable<ReturnType<typeof logEntryFromJws>>),
      engine.foldConfig,
    );
    expect(stateHash(refolded)).toBe(stateHash(engine.ledgerState));
    // A fresh engine on the same ledger folds to the same state and appends nothing.
    const size = ledger.size;
    const second = new Engine({
      ledger,
      hubKey,
      reviewer: new SimpleReviewer(valKey, 'EUR'),
      config: { currency: 'EUR', settlementGraceMs: 2 * M, tickMs: 0 },
      clock: () => now,
      publish: () => {},
      log: pino({ level: 'silent' }),
    });
    second.start();
    second.stop();
    expect(ledger.size).toBe(size);
    expect(stateHash(second.ledgerState)).toBe(stateHash(engine.ledgerState));
  });

  it('reads: unknown ids are 404 with the reason', async () => {
    expect(
      (await app.inject({ method: 'GET', url: '/v1/participants/pt-aaaaaaaaaaaaaaaa' })).statusCode,
    ).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v1/contracts/ct-nope' })).json().error).toBe(
      'unknown-contract',
    );
    expect((await app.inject({ method: 'GET', url: '/v1/prices' })).json()).toEqual({ prices: [] });
    expect((await post('/v1/orders', { jws: application(seller, gwA.id) })).json().error).toBe(
      'typ-mismatch',
    );
  });
});
