// `wattproof-hub verify --policy FILE --grid FILE` recomputes every validator decision of a ledger
// file (registrations, contract review, congestion) and fails naming the entry whose recorded
// decision differs. The ledgers are real SQLite files; the tampered one holds a correctly signed
// congestion decision that waves an overload through (what a wrong or dishonest validator would
// sign): its signature, leaf and tree all hold, so only recomputation finds it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Ledger } from '../hub/ledger/ledger.js';
import { type Highs, loadSolver } from '../hub/validator/congestion/lp.js';
import {
  activeWorld,
  compliantContract,
  fold,
  K,
  makeValidator,
  POLICY,
  Q,
  triangleGrid,
} from '../hub/validator/fixtures.js';
import { b64url, decodeJwsUnverified, signJws } from '../protocol/index.js';
import { EXAMPLE_T0 } from '../protocol/messages/examples.js';
import { VALIDATOR_DECISION_TYP } from '../protocol/messages/index.js';
import { hubCli, runNode } from './support/hub-fixtures.js';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

function ledgerFileOf(dir: string, compacts: readonly string[]): string {
  const file = path.join(dir, 'ledger.db');
  const db = new Database(file);
  const ledger = new Ledger(db, {
    signer: { origin: 'test/verify-decisions', secretKey: K.hub.secretKey, publicKey: K.hub.publicKey },
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

/** An approved, active contract overloading line 1-3, and the validator's decision for its first interval. */
function congestedWorld() {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-verify-decisions-'));
  const grid = triangleGrid(2_000);
  const v = makeValidator({ gridModel: grid, highs });
  const { b } = activeWorld(compliantContract(), v);
  const c = v.congestion(fold(b), { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q }, EXAMPLE_T0 - 300_000);
  if (c === undefined) throw new Error('expected a congestion decision');
  const policyFile = path.join(dir, 'policy.yaml');
  writeFileSync(policyFile, stringify(POLICY));
  const gridFile = path.join(dir, 'grid.yaml');
  writeFileSync(gridFile, stringify(grid));
  return { dir, b, c, policyFile, gridFile };
}

const validatorKey = () => b64url.encode(K.validator.publicKey);

describe('wattproof-hub verify --policy --grid', () => {
  it('passes an honest ledger, recomputing every decision', { timeout: 60_000 }, async () => {
    const w = congestedWorld();
    w.b.appendSigned(w.c.compact);
    const file = ledgerFileOf(w.dir, w.b.compacts);
    const r = await runNode(
      hubCli,
      ['verify', file, '--validator-key', validatorKey(), '--policy', w.policyFile, '--grid', w.gridFile],
      45_000,
    );
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    // 2 registrations, 1 contract review, 1 congestion decision.
    expect(r.stdout).toMatch(/^decisions: 4 recomputed and held, 0 judgements, 0 skipped$/m);

    // Without the grid the congestion decision cannot be recomputed: skipped, and said so.
    const noGrid = await runNode(
      hubCli,
      ['verify', file, '--validator-key', validatorKey(), '--policy', w.policyFile],
      45_000,
    );
    expect(noGrid.code).toBe(0);
    expect(noGrid.stdout).toMatch(
      /decisions: 3 recomputed and held, 0 judgements, 1 skipped \(congestion: no grid model given\)/,
    );
  });

  it('fails at a re-signed congestion decision with another outcome, naming its index', {
    timeout: 60_000,
  }, async () => {
    const w = congestedWorld();
    // The decision as a wrong validator would sign it: the overload waved through (approved, no
    // adjustments), with the validator's own key.
    const { adjustments: _drop, ...rest } = w.c.decision;
    const waved = { ...rest, outcome: 'approved' as const, reasons: [] };
    const forged = w.b.appendSigned(
      signJws(VALIDATOR_DECISION_TYP, K.validator.id, waved, K.validator.secretKey),
    );
    const file = ledgerFileOf(w.dir, w.b.compacts);
    // The ledger's own checks hold: the entry is correctly signed and in the tree.
    const plain = await runNode(hubCli, ['verify', file, '--validator-key', validatorKey()], 45_000);
    expect(plain.code, plain.stdout).toBe(0);

    const r = await runNode(
      hubCli,
      ['verify', file, '--validator-key', validatorKey(), '--policy', w.policyFile, '--grid', w.gridFile],
      45_000,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAILED at entry ${forged.index}: decision-outcome-mismatch`);
    expect(r.stdout).toMatch(/recorded approved with 0 adjustments; the recomputation gives adjusted with 1/);

    const json = await runNode(
      hubCli,
      [
        'verify',
        file,
        '--validator-key',
        validatorKey(),
        '--policy',
        w.policyFile,
        '--grid',
        w.gridFile,
        '--json',
      ],
      45_000,
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      failure: { where: 'entry', index: forged.index, reason: 'decision-outcome-mismatch' },
      decisions: { ok: false, failure: { index: forged.index, kind: 'congestion' } },
    });
  });

  it('refuses --grid without --policy, naming the option', async () => {
    const w = congestedWorld();
    const file = ledgerFileOf(w.dir, w.b.compacts);
    const r = await runNode(hubCli, ['verify', file, '--grid', w.gridFile], 45_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--grid: .*--policy FILE/);
  });
});
