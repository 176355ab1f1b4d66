// Congestion decisions at run time, on a real SQLite ledger: the engine runs the validator (policy
// with a congestion section, the three-bus grid, HiGHS) and the congestion step. A seller at bus-1
// sells to a buyer at bus-3, 1000 Wh per 15 min (4000 W); 2/3 of it takes line 1-3, limited to
// 2000 W, so every interval overloads it.
//  - minimum adjustment: the validator signs one `adjusted` decision per interval (746 Wh, see
//    hub/validator/validator.test.ts for the arithmetic); the contract settles against 746 Wh per
//    interval although 1000 Wh were delivered;
//  - congestion price: the decision refuses the contract (with the line's shadow price), the
//    validator stops it, and the stop rule gives every deposit back.
// Then the decisions pass of `verify` recomputes every decision on the engine's ledger.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CongestionStep } from '../hub/engine/congestion-step.js';
import { Engine } from '../hub/engine/engine.js';
import { Ledger } from '../hub/ledger/ledger.js';
import type { Highs } from '../hub/validator/congestion/lp.js';
import { loadSolver } from '../hub/validator/congestion/lp.js';
import {
  compliantContract,
  deliver,
  HOUR,
  K,
  POLICY_INPUT,
  Q,
  registeredWorld,
  T_REVIEW,
  triangleGrid,
} from '../hub/validator/fixtures.js';
import { parsePolicy, type ValidatorPolicy } from '../hub/validator/policy.js';
import { Validator } from '../hub/validator/validator.js';
import { verifyDecisionsFile } from '../hub/verify/verify-decisions-pass.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { decodeJwsUnverified } from '../protocol/index.js';
import { EXAMPLE_T0 } from '../protocol/messages/examples.js';
import { parseValidatorDecision, VALIDATOR_DECISION_TYP } from '../protocol/messages/index.js';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

const hubKey = { hubId: K.hub.id, publicKey: K.hub.publicKey, secretKey: K.hub.secretKey };

function appendCompacts(ledger: Ledger, compacts: readonly string[]): void {
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
}

/** A registered, funded world on a ledger file, and an engine with the validator and congestion. */
function world(policy: ValidatorPolicy) {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-engine-congestion-'));
  const file = path.join(dir, 'ledger.db');
  const db = new Database(file);
  const ledger = new Ledger(db, {
    signer: { origin: 'test/congestion', secretKey: K.hub.secretKey, publicKey: K.hub.publicKey },
  });
  const gridModel = triangleGrid(2_000);
  const validator = new Validator({
    secretKey: K.validator.secretKey,
    policy,
    currency: 'EUR',
    gridModel,
    highs,
  });
  const b = registeredWorld(validator);
  let sent = 0;
  const flush = () => {
    appendCompacts(ledger, b.compacts.slice(sent));
    sent = b.compacts.length;
  };
  flush();
  let now = T_REVIEW;
  const log = pino({ level: 'silent' });
  const engine = new Engine({
    ledger,
    hubKey,
    reviewer: validator,
    congestion: new CongestionStep({ validator, gridModel, highs, periodMs: Q, leadMs: 2 * HOUR, log }),
    config: { currency: 'EUR', settlementGraceMs: 60_000, tickMs: 0 },
    clock: () => now,
    publish: () => {},
    log,
  });
  engine.start();
  const policyFile = path.join(dir, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  const gridFile = path.join(dir, 'grid.yaml');
  writeFileSync(gridFile, stringify(gridModel));
  const decisions = () =>
    ledger
      .range(0, ledger.size)
      .filter((e) => e.typ === VALIDATOR_DECISION_TYP)
      .map((e) => {
        const p = parseValidatorDecision(decodeJwsUnverified(e.jws)?.payload);
        if (!p.ok) throw new Error('a decision the schema refuses');
        return { index: e.index, kid: e.kid, ...p.value };
      });
  return {
    b,
    flush,
    engine,
    ledger,
    db,
    file,
    policyFile,
    gridFile,
    decisions,
    setNow: (t: number) => {
      now = t;
    },
  };
}

describe('engine: congestion decisions per interval', () => {
  it('min-adjustment: adjusts every overloaded interval, and the contract settles against the adjusted quantities', async () => {
    const policy = parsePolicy(POLICY_INPUT);
    const w = world(policy);
    // The contract is proposed an hour before its window (the policy's lead time).
    w.b.contract(compliantContract());
    w.flush();
    w.engine.tick();
    const id = Object.keys(w.engine.ledgerState.contracts)[0] as string;
    expect(w.engine.ledgerState.contracts[id]?.status).toBe('active');

    const congestion = w.decisions().filter((d) => d.kind === 'congestion');
    // One decision per interval of the window, each signed by the validator, each adjusting.
    expect(congestion.map((d) => d.interval?.start)).toEqual([0, 1, 2, 3].map((i) => EXAMPLE_T0 + i * Q));
    for (const [i, d] of congestion.entries()) {
      const interval = { start: EXAMPLE_T0 + i * Q, end: EXAMPLE_T0 + (i + 1) * Q };
      expect(d).toMatchObject({
        kid: K.validator.id,
        outcome: 'adjusted',
        adjustments: [{ contract: id, interval, quantityWh: 746 }],
      });
      expect(d.reasons.map((r) => r.code)).toEqual([
        'grid-model',
        'line-overload',
        'line-shadow-prices',
        'nodal-congestion-prices',
      ]);
    }
    expect(w.engine.ledgerState.congestion).toHaveLength(4);
    // Nothing changes: ticking again decides nothing new.
    const size = w.ledger.size;
    w.setNow(T_REVIEW + 60_000);
    w.engine.tick();
    expect(w.ledger.size).toBe(size);

    // Both meters say 1000 Wh went through in every interval; the contract only owed 746.
    deliver(w.b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    w.flush();
    w.setNow(EXAMPLE_T0 + 4 * Q + 120_000);
    w.engine.tick();
    const settled = w.engine.ledgerState.contracts[id]?.settlement?.payload;
    expect(settled).toMatchObject({
      contractedWh: 4 * 746,
      deliveredWh: 4 * 746,
      shortfallWh: 0,
      outcome: 'fulfilled',
      // floor(2984 × 29 / 1000)
      paymentMinor: 86,
      penaltyMinor: 0,
    });

    w.ledger.checkpoint();
    w.engine.stop();
    w.db.close();
    const ledgerReport = verifyLedgerFile(w.file, { validatorKeys: [K.validator.publicKey] });
    expect(ledgerReport.failure, JSON.stringify(ledgerReport.failure)).toBeUndefined();
    const report = await verifyDecisionsFile(w.file, {
      policyFiles: [w.policyFile],
      gridModelFile: w.gridFile,
    });
    expect(report.failure, JSON.stringify(report.failure)).toBeUndefined();
    // 2 registrations, 1 contract review, 4 congestion decisions.
    expect(report).toMatchObject({ ok: true, checked: 7, skipped: [] });
  });

  it('congestion-price: refuses the contract loading the line, publishes the shadow price, and the stop rule returns the deposits', async () => {
    const policy = parsePolicy({
      ...POLICY_INPUT,
      congestion: { method: 'congestion-price', weights: { default: 1 } },
    });
    const w = world(policy);
    w.b.contract(compliantContract());
    w.flush();
    w.engine.tick();
    const id = Object.keys(w.engine.ledgerState.contracts)[0] as string;
    const all = w.decisions();
    const refused = all.find((d) => d.kind === 'congestion');
    expect(refused).toMatchObject({
      kid: K.validator.id,
      outcome: 'refused',
      interval: { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q },
    });
    const codes = refused?.reasons.map((r) => r.code);
    expect(codes).toContain('congestion-refused');
    // The price of the constraint: cutting the contract (worth 29 per kWh) by 1.5 Wh frees 1 Wh of
    // line 1-3 (its transfer PTDF is 2/3), so μ = 43.5 per kWh = 43 500 minor units per MWh.
    expect(refused?.reasons.find((r) => r.code === 'line-shadow-prices')?.message).toBe(
      'μ, minor units per MWh: 1-3 43500',
    );
    expect(refused?.reasons.find((r) => r.code === 'congestion-refused')?.message).toMatch(
      new RegExp(`^${id} loads 1-3 \\(667‰\\)`),
    );
    // The validator stops the refused contract right after the decision (stop rule: approved, so
    // nothing was escrowed; it never activates).
    const stop = all.find((d) => d.kind === 'contract-stop');
    expect(stop).toMatchObject({
      subject: id,
      outcome: 'stopped',
      reasons: [{ code: 'congestion-refused' }],
    });
    expect(stop?.index).toBeGreaterThan(refused?.index ?? Number.MAX_SAFE_INTEGER);
    const rec = w.engine.ledgerState.contracts[id];
    expect(rec?.status).toBe('stopped');
    expect(rec?.escrow).toEqual({ seller: 0, buyer: 0 });
    expect(w.engine.ledgerState.money.accounts[K.seller.id]?.available).toBe(500);
    expect(w.engine.ledgerState.money.accounts[K.buyer.id]?.available).toBe(1000);
    // No more contracts flow: no more decisions.
    expect(all.filter((d) => d.kind === 'congestion')).toHaveLength(1);

    w.ledger.checkpoint();
    w.engine.stop();
    w.db.close();
    const report = await verifyDecisionsFile(w.file, {
      policyFiles: [w.policyFile],
      gridModelFile: w.gridFile,
    });
    expect(report.failure, JSON.stringify(report.failure)).toBeUndefined();
    // 2 registrations, 1 review, 1 congestion decision, 1 stop founded on it.
    expect(report).toMatchObject({ ok: true, checked: 5, judgements: 0 });
  });
});
