// Market-made contracts through the whole lifecycle on a real SQLite ledger in a temp dir, with the
// engine's HTTP endpoints on a real Fastify app (inject): signed orders, the auction at gate
// closure, the match becomes a proposed contract authorised by the two orders, the validator
// reviews it, the hub activates it and sends it to both gateways (as the hub-signed match), meter
// proofs arrive as ingest appends them, and the contract settles to balances computed by hand. An
// unmatched order expires. Disputes, complaints, deregistration requests and the validator's
// rulings go through their endpoints: forged or unauthorised calls are refused, good ones applied.
// Run twice: reviewed and ruled by the simple rule sets, and by the validator service with a
// policy. The clock is a variable.
import { mkdtempSync } from 'node:fs';
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
import { KeyRulings } from '../hub/engine/rulings.js';
import { loadOrCreateValidatorKey } from '../hub/engine/validator-key.js';
import { loadOrCreateHubKey } from '../hub/keys.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { MARKET_MATCH_TYP } from '../hub/markets/messages.js';
import { marketRules } from '../hub/markets/rules.js';
import { parsePolicy } from '../hub/validator/policy.js';
import { Validator } from '../hub/validator/validator.js';
import {
  decodeJwsUnverified,
  gatewayIdOf,
  generateSecretKey,
  messageHashB64,
  publicKeyOf,
} from '../protocol/index.js';
import {
  COMPLAINT_TYP,
  DEREGISTRATION_REQUEST_TYP,
  DISPUTE_TYP,
  type EnergyOrder,
  METER_PROOF_TYP,
  ORDER_TYP,
  SETTLEMENT_TYP,
  signMessage,
  VALIDATOR_DECISION_TYP,
} from '../protocol/messages/index.js';
import { type Party, participantApplication, party } from './support/contract-fixtures.js';
import { bindGateways } from './support/hub-fixtures.js';

const TOKEN = 'engine-market-contracts-operator-token-0123456789';
const Q = 900_000;
const M = 60_000;
const T0 = Date.UTC(2026, 3, 1, 10, 0);

function gateway() {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, id: gatewayIdOf(publicKey), seq: 0, prev: null as string | null };
}

// Reviewed and ruled by the simple rule sets (a hub without a policy file: SimpleReviewer and
// KeyRulings) and by the validator service with a policy.
const POLICY = parsePolicy({
  version: 1,
  name: 'market-contracts',
  registration: {
    regions: { north: { gridNodes: 'any' } },
    roles: { household: { energies: { electricity: { maxCapacityW: 20_000 } } } },
  },
  contracts: { prices: { electricity: { floorMinorPerKWh: 0, capMinorPerKWh: 1000 } }, leadTimeMs: 0 },
});

describe.each([{ validator: 'simple rule sets' }, { validator: 'validator service' }])(
  'market contracts ($validator): auction → contract → review → activation → proofs → settlement',
  ({ validator }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-market-contracts-'));
    const { key: hubKey } = loadOrCreateHubKey(path.join(dir, 'hub.key'));
    const { key: valKey } = loadOrCreateValidatorKey(path.join(dir, 'validator.key'));
    const db = new Database(path.join(dir, 'ledger.db'));
    const ledger = new Ledger(db, {
      signer: { origin: 'test/market-contracts', secretKey: hubKey.secretKey, publicKey: hubKey.publicKey },
    });
    const rules = marketRules({ currency: 'EUR', mode: 'auction' });
    let now = T0 - 60 * M;
    const published: { topic: string; payload: string }[] = [];
    const service =
      validator === 'validator service'
        ? new Validator({ secretKey: valKey.secretKey, currency: 'EUR', policy: POLICY })
        : undefined;
    const deps = () => ({
      ledger,
      hubKey,
      reviewer: service ?? new SimpleReviewer(valKey, 'EUR'),
      rulings: service ?? new KeyRulings(valKey),
      config: { currency: 'EUR', settlementGraceMs: M, tickMs: 0, market: rules },
      clock: () => now,
      publish: (topic: string, payload: string) => published.push({ topic, payload }),
      log: pino({ level: 'silent' }),
    });
    const engine = new Engine(deps());
    const app = Fastify();
    const alice = party(); // sells
    const bob = party(); // buys
    const carol = party(); // leaves
    const gwA = gateway();
    const gwB = gateway();
    const gwC = gateway();
    let nonce = 0;

    const post = (url: string, body: unknown, token?: string) =>
      app.inject({
        method: 'POST',
        url,
        payload: body as object,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const get = (url: string) => app.inject({ method: 'GET', url });

    function order(who: Party, gw: string, o: Partial<EnergyOrder>): string {
      nonce++;
      const payload: EnergyOrder = {
        product: 'energy',
        participant: who.id,
        side: 'offer',
        region: 'north',
        currency: 'EUR',
        settlementPeriodMs: Q,
        window: { start: T0, end: T0 + Q },
        deliveryPoints: [{ gw, meter: 'grid' }],
        expires: T0,
        nonce: `bWFya2V0LWNvbnRyYWN0LW5vbmNl${nonce}`,
        createdAt: now,
        energy: 'electricity',
        quantityWh: 1,
        limitMinorPerKWh: 0,
        ...o,
      } as EnergyOrder;
      return signMessage(ORDER_TYP, who.id, payload, who.secretKey);
    }

    /** One 15-minute proof of the contract's interval, appended as ingest appends it. */
    function proof(g: ReturnType<typeof gateway>, imp: number, exp: number) {
      const jws = signMessage(
        METER_PROOF_TYP,
        g.id,
        {
          gw: g.id,
          seq: g.seq,
          prev: g.prev,
          meter: { id: 'grid', serial: 'SN-1' },
          energy: 'electricity',
          interval: { start: T0, end: T0 + Q },
          importWh: { start: 1000, end: 1000 + imp },
          exportWh: { start: 5000, end: 5000 + exp },
          samples: 90,
          expectedSamples: 90,
          flags: [],
          signedAt: T0 + Q + 1000,
        },
        g.secretKey,
      );
      ledger.append([{ jws, typ: METER_PROOF_TYP, kid: g.id, gw: g.id, seq: g.seq, receivedMs: now }]);
      g.prev = messageHashB64(jws);
      g.seq++;
    }

    const hashes: { offer: string; bid: string; lowBid: string } = { offer: '', bid: '', lowBid: '' };
    let contractId = '';
    let disputeHash = '';

    beforeAll(async () => {
      bindGateways(ledger, hubKey, [gwA, gwB, gwC], now);
      engine.start();
      await registerEngineApi(app, { engine, operatorToken: TOKEN });
      await app.ready();
      for (const [p, g] of [
        [alice, gwA],
        [bob, gwB],
        [carol, gwC],
      ] as const) {
        const jws = participantApplication(p, { gateways: [g.id], at: now });
        expect((await post('/v1/participants', { jws })).statusCode).toBe(201);
      }
      engine.tick();
      for (const p of [alice, bob])
        expect(
          (await post('/v1/credits', { account: p.id, amountMinor: 100, reference: 'bank' }, TOKEN))
            .statusCode,
        ).toBe(201);
    });
    afterAll(async () => {
      engine.stop();
      await app.close();
      db.close();
    });

    it('orders are auctioned at gate closure; the match becomes a contract the validator approves and the hub activates and sends', async () => {
      // Offer 1000 Wh at ≥ 20; bids 800 Wh at ≤ 30 and 300 Wh at ≤ 5 (crosses nothing). The walk
      // trades 800; the offer is the partly filled marginal order: price 20 (docs/markets.md).
      const offer = order(alice, gwA.id, { side: 'offer', quantityWh: 1000, limitMinorPerKWh: 20 });
      const bid = order(bob, gwB.id, { side: 'bid', quantityWh: 800, limitMinorPerKWh: 30 });
      const lowBid = order(bob, gwB.id, { side: 'bid', quantityWh: 300, limitMinorPerKWh: 5 });
      for (const jws of [offer, bid, lowBid]) {
        const r = await post('/v1/orders', { jws });
        expect(r.statusCode, r.body).toBe(201);
      }
      hashes.offer = messageHashB64(offer);
      hashes.bid = messageHashB64(bid);
      hashes.lowBid = messageHashB64(lowBid);
      engine.tick();
      expect(Object.keys(engine.ledgerState.contracts)).toEqual([]);

      now = T0 - rules.gateClosureLeadMs;
      engine.tick();
      const matches = ledger.range(0, ledger.size).filter((e) => e.typ === MARKET_MATCH_TYP);
      expect(matches).toHaveLength(1);
      const recs = Object.values(engine.ledgerState.contracts);
      expect(recs).toHaveLength(1);
      const rec = recs[0]!;
      contractId = rec.id;
      expect(engine.marketState.contracts.has(contractId)).toBe(true);
      // Authorised by the two orders: their leaves stand in for the two signatures.
      expect(rec.market).toMatchObject({
        offer: hashes.offer,
        bid: hashes.bid,
        matchIndex: matches[0]?.index,
      });
      expect(ledger.entry(rec.signatures.seller as number)?.jws).toBe(offer);
      expect(ledger.entry(rec.signatures.buyer as number)?.jws).toBe(bid);
      // proposed → approved (validator) → active (hub), each by its own entry.
      expect(rec.history.map((h) => h.status)).toEqual(['proposed', 'approved', 'active']);
      expect(ledger.entry(rec.review?.index as number)?.kid).toBe(valKey.kid);
      expect(rec.contract).toMatchObject({
        product: 'energy',
        seller: alice.id,
        buyer: bob.id,
        quantity: { wh: 800, per: 'window' },
        priceMinorPerKWh: 20,
        penaltyMinorPerKWh: 20,
        deposits: { seller: 16, buyer: 16 },
      });
      expect(engine.ledgerState.money.accounts[alice.id]).toEqual({ available: 84, escrow: 16 });
      expect(engine.ledgerState.money.accounts[bob.id]).toEqual({ available: 84, escrow: 16 });
      // Sent to both gateways as the hub-signed match that carries it.
      const sent = published.filter((p) => p.topic.endsWith('/cmd/contract'));
      expect(sent.map((p) => p.topic).sort()).toEqual(
        [`wattproof/v1/gw/${gwA.id}/cmd/contract`, `wattproof/v1/gw/${gwB.id}/cmd/contract`].sort(),
      );
      const general = JSON.parse(sent[0]?.payload ?? '') as {
        payload: string;
        signatures: { protected: string; signature: string }[];
      };
      const compact = `${general.signatures[0]?.protected}.${general.payload}.${general.signatures[0]?.signature}`;
      expect(compact).toBe(matches[0]?.jws);
      const d = decodeJwsUnverified(compact);
      expect(d?.header).toMatchObject({ typ: MARKET_MATCH_TYP, kid: hubKey.hubId });
      expect((d?.payload as { contractId?: string } | undefined)?.contractId).toBe(contractId);
      // The API shows it; no party-signed form exists.
      const got = await get(`/v1/contracts/${contractId}`);
      expect(got.json()).toMatchObject({
        contract: { status: 'active' },
        signed: null,
        authorisation: { match: matches[0]?.jws, offer, bid },
      });
    });

    it('a gateway birth re-sends its active contracts to it alone, once per birth', () => {
      const before = published.length;
      engine.onGatewayBirth(gwA.id, now);
      engine.onGatewayBirth(gwA.id, now); // the same (retained) birth seen again
      const again = published.slice(before);
      expect(again.map((p) => p.topic)).toEqual([`wattproof/v1/gw/${gwA.id}/cmd/contract`]);
      engine.onGatewayBirth(gwC.id, now + 1); // no contract of gwC: nothing
      expect(published.length).toBe(before + 1);
    });

    it('the unmatched order expires; the filled ones show what they made', async () => {
      const low = await get(`/v1/orders/${hashes.lowBid}`);
      expect(low.json()).toMatchObject({ status: 'open', filled: {}, contracts: [] });
      now = T0; // its expires
      expect((await get(`/v1/orders/${hashes.lowBid}`)).json()).toMatchObject({
        status: 'expired',
        filled: {},
        contracts: [],
      });
      expect((await get(`/v1/orders/${hashes.bid}`)).json()).toMatchObject({
        status: 'filled',
        filled: { [String(T0)]: 800 },
        contracts: [contractId],
      });
      expect((await get(`/v1/orders/${hashes.offer}`)).json()).toMatchObject({
        status: 'expired',
        filled: { [String(T0)]: 800 },
        contracts: [contractId],
      });
      expect((await get('/v1/orders/nothing-here')).statusCode).toBe(404);
      // It took part in the one auction of its interval and in no later one: the recorded result
      // counts it among the book's orders (3), with the volume the other two made.
      const result = [...engine.marketState.auctions.values()];
      expect(result).toHaveLength(1);
      expect(result[0]).toMatchObject({ orders: 3, volume: 800, priceMinor: 20 });
    });

    it('meter proofs settle the market contract to the hand-computed balances', () => {
      // Seller exports 700 Wh, buyer imports 900 Wh in the interval: delivered min(700, 900) = 700
      // of 800; shortfall 100. payment floor(700 × 20 / 1000) = 14; penalty min(floor(100 × 20 /
      // 1000), 16) = 2; released: seller 16 − 2 = 14, buyer 16 − 14 = 2.
      // alice 84 + 14 + 14 = 112; bob 84 + 2 + 2 = 88; Σ = 200 = Σ credits.
      proof(gwA, 0, 700);
      proof(gwB, 900, 0);
      engine.tick();
      expect(engine.ledgerState.contracts[contractId]?.status).toBe('delivering');
      now = T0 + Q + M; // window end + grace
      engine.tick();
      const rec = engine.ledgerState.contracts[contractId];
      expect(rec?.status).toBe('settled');
      expect(rec?.settlement?.payload).toMatchObject({
        outcome: 'partial',
        contractedWh: 800,
        sellerExportWh: 700,
        buyerImportWh: 900,
        deliveredWh: 700,
        shortfallWh: 100,
        paymentMinor: 14,
        penaltyMinor: 2,
        unpaidMinor: 0,
        released: { seller: 14, buyer: 2 },
        proofCount: 2,
      });
      expect(engine.ledgerState.money.accounts[alice.id]).toEqual({ available: 112, escrow: 0 });
      expect(engine.ledgerState.money.accounts[bob.id]).toEqual({ available: 88, escrow: 0 });
      expect(ledger.range(0, ledger.size).filter((e) => e.typ === SETTLEMENT_TYP)).toHaveLength(1);
    });

    it('disputes: only the party itself opens one; the ruling needs the operator token and moves the refund', async () => {
      const settlementHash = messageHashB64(
        ledger.entry(engine.ledgerState.contracts[contractId]?.settlement?.index as number)?.jws ?? '',
      );
      const dispute = (signer: Uint8Array, party = bob.id, contract = contractId) =>
        signMessage(
          DISPUTE_TYP,
          party,
          {
            contract,
            party,
            claim: 'my meter shows more',
            claimMinor: 2,
            evidence: [settlementHash],
            at: now,
          },
          signer,
        );
      const size = ledger.size;
      const forged = await post(`/v1/contracts/${contractId}/disputes`, { jws: dispute(alice.secretKey) });
      expect(forged.statusCode).toBe(400);
      expect(forged.json().error).toBe('bad-signature');
      const elsewhere = await post(`/v1/contracts/ct-${'A'.repeat(43)}/disputes`, {
        jws: dispute(bob.secretKey),
      });
      expect(elsewhere.statusCode).toBe(400);
      expect(elsewhere.json().error).toBe('contract-mismatch');
      const wrongTyp = await post(`/v1/contracts/${contractId}/disputes`, {
        jws: order(bob, gwB.id, {
          side: 'bid',
          quantityWh: 1,
          limitMinorPerKWh: 1,
          window: { start: T0 + 4 * Q, end: T0 + 5 * Q },
          expires: T0 + 5 * Q,
        }),
      });
      expect(wrongTyp.statusCode).toBe(400);
      expect(ledger.size).toBe(size);

      const ok = await post(`/v1/contracts/${contractId}/disputes`, { jws: dispute(bob.secretKey) });
      expect(ok.statusCode, ok.body).toBe(201);
      disputeHash = ok.json().receipt.messageHash;
      expect(ok.json()).toMatchObject({ dispute: { status: 'open', party: bob.id }, status: 'disputed' });
      expect((await get(`/v1/disputes?contract=${contractId}`)).json().disputes).toHaveLength(1);

      const ruling = { outcome: 'upheld', reasons: [{ code: 'meter-shown', message: 'the buyer is right' }] };
      const refund = { from: alice.id, to: bob.id, amountMinor: 2 };
      expect((await post(`/v1/disputes/${disputeHash}/ruling`, { ...ruling, refund })).statusCode).toBe(401);
      expect(
        (await post(`/v1/disputes/${disputeHash}/ruling`, { ...ruling, refund }, `${TOKEN}x`)).statusCode,
      ).toBe(401);
      const bad = await post(`/v1/disputes/${disputeHash}/ruling`, { outcome: 'maybe', reasons: [] }, TOKEN);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().detail).toContain('outcome');
      // A refund from the seller is bounded by what the settlement paid it (14).
      const above = await post(
        `/v1/disputes/${disputeHash}/ruling`,
        { ...ruling, refund: { ...refund, amountMinor: 15 } },
        TOKEN,
      );
      expect(above.statusCode).toBe(409);
      expect(above.json().error).toBe('refund-above-bound');
      expect(ledger.size).toBe(size + 1);

      const ruled = await post(`/v1/disputes/${disputeHash}/ruling`, { ...ruling, refund }, TOKEN);
      expect(ruled.statusCode, ruled.body).toBe(201);
      expect(ruled.json().dispute).toMatchObject({ status: 'upheld', ruling: { paidMinor: 2 } });
      expect(ledger.entry(ruled.json().receipt.index)?.kid).toBe(valKey.kid);
      expect(ledger.entry(ruled.json().receipt.index)?.typ).toBe(VALIDATOR_DECISION_TYP);
      expect(engine.ledgerState.contracts[contractId]?.status).toBe('settled');
      expect(engine.ledgerState.money.accounts[alice.id]).toEqual({ available: 110, escrow: 0 });
      expect(engine.ledgerState.money.accounts[bob.id]).toEqual({ available: 90, escrow: 0 });
      const twice = await post(`/v1/disputes/${disputeHash}/ruling`, ruling, TOKEN);
      expect(twice.statusCode).toBe(409);
      expect((await post(`/v1/disputes/${'B'.repeat(43)}/ruling`, ruling, TOKEN)).statusCode).toBe(404);
    });

    it('complaints: signed by the complainant, decided with the operator token', async () => {
      const complaint = (signer: Uint8Array) =>
        signMessage(
          COMPLAINT_TYP,
          bob.id,
          {
            complainant: bob.id,
            about: alice.id,
            contract: contractId,
            text: 'short again',
            evidence: [],
            at: now,
          },
          signer,
        );
      expect((await post('/v1/complaints', { jws: complaint(carol.secretKey) })).statusCode).toBe(400);
      const ok = await post('/v1/complaints', { jws: complaint(bob.secretKey) });
      expect(ok.statusCode, ok.body).toBe(201);
      const hash = ok.json().receipt.messageHash as string;
      expect(ok.json().complaint).toMatchObject({ status: 'open', about: alice.id });
      expect((await get(`/v1/complaints?about=${alice.id}&status=open`)).json().complaints).toHaveLength(1);
      const decision = {
        outcome: 'rejected',
        reasons: [{ code: 'no-pattern', message: 'one short interval' }],
      };
      expect((await post(`/v1/complaints/${hash}/decision`, decision)).statusCode).toBe(401);
      const done = await post(`/v1/complaints/${hash}/decision`, decision, TOKEN);
      expect(done.statusCode, done.body).toBe(201);
      expect((await get(`/v1/complaints/${hash}`)).json().complaint).toMatchObject({ status: 'rejected' });
    });

    it('deregistration requests: signed by the participant itself, for its own id', async () => {
      const request = (signer: Uint8Array) =>
        signMessage(
          DEREGISTRATION_REQUEST_TYP,
          carol.id,
          { participant: carol.id, reason: 'moving', at: now },
          signer,
        );
      expect(
        (await post(`/v1/participants/${carol.id}/deregistration`, { jws: request(bob.secretKey) }))
          .statusCode,
      ).toBe(400);
      const other = await post(`/v1/participants/${bob.id}/deregistration`, {
        jws: request(carol.secretKey),
      });
      expect(other.statusCode).toBe(400);
      expect(other.json().error).toBe('participant-mismatch');
      const ok = await post(`/v1/participants/${carol.id}/deregistration`, { jws: request(carol.secretKey) });
      expect(ok.statusCode, ok.body).toBe(201);
      expect(ok.json().participant.deregistrationRequest).toMatchObject({ reason: 'moving' });
      // The validator service answers a deregistration request; the simple rule sets leave it to a person.
      engine.tick();
      expect(engine.ledgerState.registry.participants[carol.id]?.status).toBe(
        validator === 'validator service' ? 'deregistered' : 'approved',
      );
    });

    it('the log refolds to the same state; no hub or validator entry is refused', () => {
      const entries = ledger
        .range(0, ledger.size)
        .map((e) => logEntryFromJws(e.index, e.jws))
        .filter((e) => e !== undefined);
      const refolded = foldLog(entries, engine.foldConfig);
      expect(stateHash(refolded)).toBe(stateHash(engine.ledgerState));
      const kids = new Map(ledger.range(0, ledger.size).map((e) => [e.index, e.kid]));
      const refusedOurs = refolded.notices.filter(
        (n) => n.kind === 'refused' && /^(hub|val)-/.test(kids.get(n.index) ?? ''),
      );
      expect(refusedOurs).toEqual([]);
      const fresh = new Engine(deps());
      const size = ledger.size;
      fresh.start();
      fresh.stop();
      expect(ledger.size).toBe(size);
      expect(stateHash(fresh.ledgerState)).toBe(stateHash(engine.ledgerState));
    });
  },
);
