// `wattproof-hub verify` folds the log again: a settlement the hub signed must be the one the
// meter proofs in the log give. Built on a real ledger file (SQLite, Merkle tree, signed
// checkpoints) holding the contracts scenario: registered, funded parties, an approved and
// activated contract, four intervals of proofs from both gateways, and the hub's settlement.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { foldLog, planSettlement } from '../hub/contracts/fold.js';
import { K, Q, registeredWorld, SCENARIO_CONFIG } from '../hub/contracts/scenario.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { decodeJwsUnverified } from '../protocol/index.js';

function ledgerFileOf(compacts: string[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wattproof-verify-state-')), 'ledger.db');
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
      const p = d.payload as { gw?: string; seq?: number };
      const chained = d.header.kid.startsWith('gw-') && typeof p.seq === 'number';
      return {
        jws,
        typ: d.header.typ,
        kid: d.header.kid,
        gw: chained ? (p.gw as string) : null,
        seq: chained ? (p.seq as number) : null,
        receivedMs: 0,
      };
    }),
  );
  ledger.checkpoint();
  db.close();
  return file;
}

/** The scenario with every interval delivered, and the settlement the hub plans for it. */
function settledWorld() {
  const { b, contract, id } = registeredWorld({ sign: true });
  const a = { importWh: 0, exportWh: 0 };
  const bb = { importWh: 0, exportWh: 0 };
  for (let i = 0; i < 4; i++) {
    const start = contract.window.start + i * Q;
    b.proof(K.gatewayA.id, 'grid-meter', start, Q, { importWh: 0, exportWh: 1000 }, a);
    b.proof(K.gatewayB.id, 'grid-meter', start, Q, { importWh: 1000, exportWh: 0 }, bb);
  }
  const plan = planSettlement(foldLog(b.entries, SCENARIO_CONFIG), id, contract.window.end + 2 * Q);
  if (!plan.ok) throw new Error(plan.message);
  return { b, payload: plan.payload };
}

describe('wattproof-hub verify: the state folded again', () => {
  it('passes a ledger whose settlement follows from its proofs, and reports the state', () => {
    const { b, payload } = settledWorld();
    b.settlement(K.hub.id, payload);
    const report = verifyLedgerFile(ledgerFileOf(b.compacts), { validatorKeys: [K.validator.publicKey] });
    expect(report.failure, JSON.stringify(report.failure)).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.state).toMatchObject({ participants: 2, contracts: 1, settled: 1 });
    expect(report.state?.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('fails at a settlement the hub signed that the proofs do not give, naming the entry', () => {
    const { b, payload } = settledWorld();
    // One minor unit more to the seller than 4 × 1000 Wh at 29/kWh: correctly signed, but false.
    const forged = b.settlement(K.hub.id, { ...payload, paymentMinor: payload.paymentMinor + 1 });
    const report = verifyLedgerFile(ledgerFileOf(b.compacts), { validatorKeys: [K.validator.publicKey] });
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ where: 'entry', reason: 'state', index: forged.index });
    expect(report.failure?.detail).toMatch(/settlement signed by hub-/);
  });

  it('fails at a second settlement of the same contract', () => {
    const { b, payload } = settledWorld();
    b.settlement(K.hub.id, payload);
    const second = b.settlement(K.hub.id, { ...payload, at: payload.at + 1 });
    const report = verifyLedgerFile(ledgerFileOf(b.compacts), { validatorKeys: [K.validator.publicKey] });
    expect(report.failure).toMatchObject({ reason: 'state', index: second.index });
  });
});
