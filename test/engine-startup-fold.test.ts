// The engine's start-up fold (Engine.start on a ledger already written) reaches exactly the state
// the engine built while the ledger was written, entry by entry, and the state the plain fold
// reaches (protocol's decode of every leaf, then hub/contracts' applyEntry): on a log with a
// contract that takes in proofs, proofs of a gateway without contracts, entries of typs the fold
// does not read, proofs the fold refuses, and leaves that do not decode. The start-up fold reads
// leaves its own faster way (hub/engine/leaf-reader.ts); this pins that nothing changes by it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { applyEntry, emptyState, logEntryFromJws, stateHash, stateJson } from '../hub/contracts/fold.js';
import { Engine } from '../hub/engine/engine.js';
import { SimpleReviewer } from '../hub/engine/reviewer.js';
import { loadOrCreateValidatorKey } from '../hub/engine/validator-key.js';
import { loadOrCreateHubKey } from '../hub/keys.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { messageHashB64, signJws } from '../protocol/index.js';
import {
  type EnergyContract,
  GATEWAY_STATUS_TYP,
  METER_PROOF_TYP,
  type MeterProof,
} from '../protocol/messages/index.js';
import {
  type MeteringGateway,
  meteringGateway,
  minuteProofPayload,
  participantApplication,
  party,
  signBothParties,
} from './support/contract-fixtures.js';
import { bindGateways } from './support/hub-fixtures.js';

const M = 60_000;
const T0 = Date.UTC(2026, 2, 1, 10, 0);

describe('engine start-up fold', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-engine-startup-'));
  const { key: hubKey } = loadOrCreateHubKey(path.join(dir, 'hub.key'));
  const { key: valKey } = loadOrCreateValidatorKey(path.join(dir, 'validator.key'));
  const db = new Database(path.join(dir, 'ledger.db'));
  const ledger = new Ledger(db, {
    signer: { origin: 'test/engine-startup', secretKey: hubKey.secretKey, publicKey: hubKey.publicKey },
  });
  let now = T0 - 60 * M;
  const engineOn = () =>
    new Engine({
      ledger,
      hubKey,
      reviewer: new SimpleReviewer(valKey, 'EUR'),
      config: { currency: 'EUR', settlementGraceMs: 2 * M, tickMs: 0 },
      clock: () => now,
      publish: () => {},
      log: pino({ level: 'silent' }),
    });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Appends leaves as ingest does (its own transaction), then the engine folds them. */
  function ingest(
    engine: Engine,
    leaves: { jws: string; typ: string; kid: string; g?: MeteringGateway }[],
  ): void {
    ledger.append(
      leaves.map(({ jws, typ, kid, g }) => ({
        jws,
        typ,
        kid,
        gw: g ? g.id : null,
        seq: g ? g.seq : null,
        receivedMs: now,
      })),
    );
    for (const { jws, g } of leaves)
      if (g) {
        g.prev = messageHashB64(jws);
        g.seq++;
      }
    engine.tick();
  }

  /** A chained proof payload of one minute (override fields to break it). */
  function proofOf(
    g: MeteringGateway,
    minute: number,
    imp: number,
    exp: number,
    over: Partial<MeterProof> = {},
  ) {
    const payload = minuteProofPayload(g, T0, minute, imp, exp, over);
    // signJws, not signMessage: it signs a payload the schema refuses too (as an older hub might have).
    return { jws: signJws(METER_PROOF_TYP, g.id, payload, g.secretKey), typ: METER_PROOF_TYP, kid: g.id, g };
  }

  it('reaches the state the engine built while the log was written, and the plain fold’s', () => {
    const seller = party();
    const buyer = party();
    const gwA = meteringGateway();
    const gwB = meteringGateway();
    const gwC = meteringGateway(); // bound, metering, in no contract
    const live = engineOn();
    bindGateways(ledger, hubKey, [gwA, gwB, gwC], now);
    live.start();
    live.submitSigned(participantApplication(seller, { gateways: [gwA.id], at: now }));
    live.submitSigned(participantApplication(buyer, { gateways: [gwB.id], at: now }));
    live.tick(); // the validator approves both
    live.credit({ account: seller.id, amountMinor: 100, reference: 'bank-1' });
    live.credit({ account: buyer.id, amountMinor: 200, reference: 'bank-2' });
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
      nonce: 'c3RhcnR1cC1mb2xkLTE',
      createdAt: now,
      quantity: { wh: 100, per: 'interval' },
      priceMinorPerKWh: 40,
      penaltyMinorPerKWh: 30,
    };
    const [first] = live.submitContract(signBothParties(contract, seller, buyer));
    live.tick();
    const id = Object.keys(live.ledgerState.contracts)[0] as string;
    expect(first?.outcome?.status).toBe('applied');
    expect(live.ledgerState.contracts[id]?.status).toBe('active');

    const status = (g: MeteringGateway) => ({
      jws: signJws(GATEWAY_STATUS_TYP, g.id, { state: 'online', at: now }, g.secretKey),
      typ: GATEWAY_STATUS_TYP,
      kid: g.id,
    });
    for (const minute of [0, 1]) {
      now = T0 + (minute + 1) * M + 2000;
      ingest(live, [
        proofOf(gwA, minute, 0, 100),
        proofOf(gwB, minute, 100, 0),
        proofOf(gwC, minute, 50, 0),
        status(gwA),
        status(gwC),
      ]);
    }
    // Proofs the fold refuses: one its schema refuses (more samples than expected), one for another
    // gateway than its signer, one of a contract's gateway that does not decode as JSON it accepts.
    ingest(live, [proofOf(gwC, 2, 1, 0, { samples: 13 })]);
    ingest(live, [proofOf(gwC, 3, 1, 0, { gw: gwA.id })]);
    const [h, , s] = (proofOf(gwA, 2, 0, 1).jws as string).split('.');
    ledger.append([
      {
        jws: `${h}.${Buffer.from('{"gw": 1}').toString('base64url')}.${s}`,
        typ: METER_PROOF_TYP,
        kid: gwA.id,
        gw: null,
        seq: null,
        receivedMs: now,
      },
      { jws: 'not-a-jws', typ: METER_PROOF_TYP, kid: gwA.id, gw: null, seq: null, receivedMs: now },
    ]);
    live.tick();
    // Settled after the grace, closed after the dispute window.
    now = T0 + 5 * M;
    live.tick();
    now = T0 + 20 * M;
    live.tick();
    const built = live.ledgerState;
    expect(built.contracts[id]?.status).toBe('closed');
    expect(built.contracts[id]?.proofs).toHaveLength(4);
    expect(built.notices.filter((n) => n.kind === 'refused').map((n) => n.code)).toEqual([
      'schema',
      'kid-mismatch',
    ]);
    live.stop();

    // The plain fold: protocol's decode of every leaf, a leaf that does not decode only counted.
    const plain = emptyState();
    for (const e of ledger.range(0, ledger.size)) {
      const entry = logEntryFromJws(e.index, e.jws);
      if (entry === undefined) plain.size = e.index + 1;
      else applyEntry(plain, entry, live.foldConfig);
    }
    expect(plain.size).toBe(ledger.size);
    expect(stateJson(plain)).toBe(stateJson(built));

    // A fresh engine on the same ledger folds it at start-up to the same state and appends nothing.
    const size = ledger.size;
    const restarted = engineOn();
    restarted.start();
    restarted.stop();
    expect(ledger.size).toBe(size);
    expect(stateJson(restarted.ledgerState)).toBe(stateJson(built));
    expect(stateHash(restarted.ledgerState)).toBe(stateHash(built));
  });
});
